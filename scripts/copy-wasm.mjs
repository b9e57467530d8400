// tsc compiles TypeScript only: the committed WebAssembly kernel goes next to the compiled module that loads it.
import { copyFile } from 'node:fs/promises';

await copyFile(new URL('../src/core/chunking/gear-scan.wasm', import.meta.url), new URL('../dist/core/chunking/gear-scan.wasm', import.meta.url));
