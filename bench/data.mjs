// Seeded benchmark data through the project's own generator (dist/fixtures/generate-model.js, built by `npm run build`):
// v1, v2 (about 5 % changed in 8 regions), ins (1 KiB inserted at offset 4096), a folder of many small files, and the
// two shapes of shapes-data.mjs (a model-like folder, and thousands of tiny files).
// Each variant is a folder holding model.bin, so the same path exists in every version (pull updates, restic paths).
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeModelFolder, writeTinyFiles } from './shapes-data.mjs';

export async function loadGenerator() {
  const path = resolve('dist/fixtures/generate-model.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
  return import(pathToFileURL(path).href);
}

const SEED = 'aim-bench-1';

export async function prepareData(gen, workDir, size, smallFiles, tinyFiles) {
  const dir = join(workDir, 'data');
  const stamp = join(dir, 'stamp.json');
  const want = { size, smallFiles, tinyFiles, seed: SEED, version: 2 };
  try {
    if (JSON.stringify(JSON.parse(await readFile(stamp, 'utf8'))) === JSON.stringify(want)) return layout(dir, size);
  } catch {}
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const started = Date.now();
  const d = layout(dir, size);
  await gen.writeRandomFile(d.v1.file, size, `${SEED}:v1`);
  await gen.deriveFile(d.v1.file, d.v2.file, gen.spreadChanges(size, 0.05, 8), `${SEED}:v2`);
  await gen.deriveFile(d.v1.file, d.ins.file, [{ kind: 'insert', offset: 4096, length: 1024 }], `${SEED}:ins`);
  // Many small files: 4–64 KiB each, sizes from a seeded LCG so every run has the same folder.
  let x = 12345;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let total = 0;
  for (let i = 0; i < smallFiles; i++) {
    const bytes = 4096 + Math.floor(rand() * (60 * 1024 + 1));
    total += bytes;
    await gen.writeRandomFile(join(d.small.dir, `shard-${String(Math.floor(i / 100)).padStart(3, '0')}`, `f${String(i).padStart(5, '0')}.bin`), bytes, `${SEED}:small:${i}`);
  }
  await writeFile(join(dir, 'small-total'), String(total));
  const shapes = {
    model: await writeModelFolder(gen, d.model.dir, size, `${SEED}:model`),
    tiny: await writeTinyFiles(gen, d.tiny.dir, tinyFiles, SEED),
  };
  await writeFile(join(dir, 'shapes.json'), JSON.stringify(shapes));
  await writeFile(stamp, JSON.stringify(want));
  console.log(`  data generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return layout(dir, size);
}

function layout(dir, size) {
  const variant = (name) => ({ dir: join(dir, name), file: join(dir, name, 'model.bin'), bytes: size });
  return { root: dir, v1: variant('v1'), v2: { ...variant('v2') }, ins: { ...variant('ins'), bytes: size + 1024 }, small: { dir: join(dir, 'small') }, model: { dir: join(dir, 'model') }, tiny: { dir: join(dir, 'tiny') } };
}

/** Fills in each shape's total bytes and file count, as written when the data was made. */
export async function shapeTotals(data) {
  const shapes = JSON.parse(await readFile(join(data.root, 'shapes.json'), 'utf8'));
  Object.assign(data.model, shapes.model);
  Object.assign(data.tiny, shapes.tiny);
}

export async function smallTotal(data) {
  return Number(await readFile(join(data.root, 'small-total'), 'utf8'));
}

export async function fileSize(path) {
  return (await stat(path)).size;
}

/**
 * Reads every data file once, so each round starts with its inputs in the page cache, as the report says. Kept data
 * (--keep) or a round's own traffic (repositories, restores, s3rver's copies) can push them out; a cold v2 made one
 * push read from the disk at a fifth of the speed.
 */
export async function warmPageCache(data) {
  const files = [data.v1.file, data.v2.file, data.ins.file];
  for (const folder of [data.small.dir, data.model.dir, data.tiny.dir]) {
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(join(entry.parentPath ?? entry.path, entry.name));
    }
  }
  for (const file of files) {
    for await (const piece of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) void piece;
  }
}
