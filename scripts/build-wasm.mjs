// Compiles src/core/chunking/gear-scan.wat into src/core/chunking/gear-scan.wasm with wabt (a dev dependency). The .wasm is committed
// so that a build needs no compiler; test/core/chunking/gear-scan.test.ts recompiles the .wat and fails if the two differ.
// Usage: npm run build:wasm
import { readFile, writeFile } from 'node:fs/promises';
import { compileGearScan } from './compile-wat.mjs';

const source = new URL('../src/core/chunking/gear-scan.wat', import.meta.url);
const target = new URL('../src/core/chunking/gear-scan.wasm', import.meta.url);
await writeFile(target, await compileGearScan(await readFile(source, 'utf8')));
console.log(`wrote ${target.pathname}`);
