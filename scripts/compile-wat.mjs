import wabtInit from 'wabt';

/** WebAssembly text -> binary, with shared memory (the threads feature) enabled. V8 validates it on load. */
export async function compileGearScan(text) {
  const wabt = await wabtInit();
  const module = wabt.parseWat('gear-scan.wat', text, { threads: true });
  try {
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
