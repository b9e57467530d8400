import { EnvReader } from './env-reader.js';

// Switches between implementations that give the same results: the fast one by default, the portable one on
// request (to compare them, or where the fast one misbehaves).

/**
 * All three switches at once, each checked: a command reads them before it starts, so a bad value is reported at
 * once rather than only when a file big enough to need it comes along.
 */
export function runtimeSwitches(env: NodeJS.ProcessEnv = process.env): { hash: 'native' | 'wasm'; cdc: 'workers' | 'inline'; directIo: boolean } {
  const reader = new EnvReader(env);
  const switches = {
    hash: reader.choice('AIM_HASH', ['native', 'wasm'] as const) ?? 'native',
    cdc: reader.choice('AIM_CDC', ['workers', 'inline'] as const) ?? 'workers',
    directIo: reader.flag('AIM_DIRECT_IO') ?? true,
  };
  reader.check('see README.md, Configuration');
  return switches;
}

/** AIM_HASH: `native` BLAKE3 (@napi-rs/blake-hash) where it loads, or `wasm` (hash-wasm, the portable one). */
export function hashBackend(env: NodeJS.ProcessEnv = process.env): 'native' | 'wasm' {
  return runtimeSwitches(env).hash;
}

/** AIM_CDC: cut big files on `workers` (threads over shared memory) or `inline` on the main thread. */
export function cdcMode(env: NodeJS.ProcessEnv = process.env): 'workers' | 'inline' {
  return runtimeSwitches(env).cdc;
}

/** AIM_DIRECT_IO: 0 keeps every read and write in the page cache, even on file systems that take O_DIRECT. */
export function directIoEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return runtimeSwitches(env).directIo;
}

/** AIM_CONFIG: the model_repos.yaml to use when --config is not given; undefined to search from the cwd upward. */
export function aimConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return new EnvReader(env).text('AIM_CONFIG');
}
