import { readFileSync } from 'node:fs';
import { HASH_SPAN, type Chunker } from './chunker.js';

// Chunker.scan's loop in WebAssembly (gear-scan.wat, compiled into gear-scan.wasm), over a shared memory that holds
// the gear table at offset 0, an output area per worker and the windows of file data. Faster than the JavaScript
// loop (docs/benchmarks.md), with the same positions (test/core/chunking/gear-scan.test.ts).

const wasmUrl = new URL('./gear-scan.wasm', import.meta.url);
const GEAR_BYTES = 256 * 4;

let compiled: WebAssembly.Module | undefined;

function gearModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(wasmUrl));
  return compiled;
}

/**
 * Copies within a shared memory (memory.copy): whatever the alignment, at the speed of a plain copy, where a copy from
 * JavaScript into or out of shared memory goes a byte at a time unless both ends share their offset in an 8-byte word.
 */
export function memoryMover(memory: WebAssembly.Memory): (to: number, from: number, length: number) => void {
  return new WebAssembly.Instance(gearModule(), { env: { memory } }).exports.move as (to: number, from: number, length: number) => void;
}

/** Writes the gear table where the kernel reads it; once per memory, before any scan. */
export function installGear(memory: WebAssembly.Memory, chunker: Chunker): void {
  new Int32Array(memory.buffer, 0, GEAR_BYTES / 4).set(chunker.kernel.gear);
}

export class GearScan {
  private readonly run: (from: number, to: number, warm: number, small: number, large: number, out: number, max: number) => number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly chunker: Chunker,
    /** This worker's output area: `max` entries of 4 bytes from `out`. */
    private readonly out: number,
    private readonly max: number,
  ) {
    const instance = new WebAssembly.Instance(gearModule(), { env: { memory } });
    this.run = instance.exports.scan as GearScan['run'];
  }

  /** Chunker.scan over the memory, or undefined when more positions match than the output area holds. */
  scan(from: number, to: number, history: number): number[] | undefined {
    const { maskSmall, maskLarge } = this.chunker.kernel;
    const count = this.run(from, to, Math.max(history, from - HASH_SPAN + 1), maskSmall, maskLarge, this.out, this.max);
    if (count > this.max) return undefined;
    return Array.from(new Int32Array(this.memory.buffer, this.out, count));
  }
}
