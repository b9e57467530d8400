// Two more seeded data shapes, beside the single-file variants of data.mjs: a folder laid out like a published model
// (one large weights file, a few shard-like files, a tokenizer of a few MB and a few dozen small configs), and a
// folder of many tiny files (100 B to 8 KiB), where per-file costs dominate rather than bytes.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const MiB = 1024 * 1024;

/** A seeded LCG in [0, 1), so every run builds the same folders. */
function lcg(seed) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

async function put(path, content) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

/** Text that reads like a tokenizer's vocabulary: compressible, unlike the weights, as real tokenizer files are. */
function tokenizerJson(rand, entries) {
  const letters = 'abcdefghijklmnopqrstuvwxyzĠ';
  const word = () => Array.from({ length: 2 + Math.floor(rand() * 9) }, () => letters[Math.floor(rand() * letters.length)]).join('');
  const vocab = {};
  for (let i = 0; i < entries; i++) vocab[`${word()}${i}`] = i;
  const merges = Array.from({ length: entries / 2 }, () => `${word()} ${word()}`);
  return JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab, merges } }, null, 1);
}

/** Writes the model-like folder; returns its total bytes and file count. */
export async function writeModelFolder(gen, dir, weightsBytes, seed) {
  const rand = lcg(4242);
  let bytes = 0;
  let files = 0;
  const text = async (name, content) => { await put(join(dir, name), content); bytes += Buffer.byteLength(content); files++; };
  const random = async (name, size) => { await gen.writeRandomFile(join(dir, name), size, `${seed}:${name}`); bytes += size; files++; };
  await random('model.safetensors', weightsBytes);
  // Shard-like files of tens of MB: optimizer states, an adapter, embeddings kept apart.
  for (const [i, mib] of [16, 24, 32, 48].entries()) await random(`extra/shard-${String(i + 1).padStart(5, '0')}-of-00004.bin`, mib * MiB);
  await text('tokenizer.json', tokenizerJson(rand, 120_000));
  await text('vocab.txt', Array.from({ length: 60_000 }, (_, i) => `tok${i}_${Math.floor(rand() * 1e9).toString(36)}`).join('\n'));
  await text('merges.txt', Array.from({ length: 40_000 }, () => `${Math.floor(rand() * 1e6).toString(36)} ${Math.floor(rand() * 1e6).toString(36)}`).join('\n'));
  const config = (i) => JSON.stringify({ architectures: ['BenchForCausalLM'], hidden_size: 4096, layer: i, seed: Math.floor(rand() * 1e9), notes: 'x'.repeat(Math.floor(rand() * 16_000)) }, null, 2);
  for (const name of ['config.json', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json']) await text(name, config(0));
  await text('README.md', `# bench model\n\n${'A seeded model card line.\n'.repeat(400)}`);
  await text('LICENSE', 'Seeded benchmark data; no rights reserved.\n'.repeat(200));
  await text('.gitattributes', '*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n');
  for (let i = 0; i < 30; i++) await text(`configs/layer-${String(i).padStart(2, '0')}.json`, config(i));
  return { bytes, files };
}

/** Writes `count` files of 100 B to 8 KiB, 100 to a folder; returns their total bytes and count. */
export async function writeTinyFiles(gen, dir, count, seed) {
  const rand = lcg(777);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const size = 100 + Math.floor(rand() * (8 * 1024 - 100 + 1));
    const path = join(dir, `d${String(Math.floor(i / 100)).padStart(3, '0')}`, `f${String(i).padStart(5, '0')}.dat`);
    await put(path, gen.randomStream(`${seed}:tiny:${i}`).next(size));
    bytes += size;
  }
  return { bytes, files: count };
}
