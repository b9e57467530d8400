// Foreign metadata for the scale benchmark, written straight into a repository with the bytes absent: index files
// ("shards") of 32,768 entries each, ~32 chunks of ~512 KiB per pack, random digests, and a key object
// keys/<hex[2..4]>/<hex> (the shard's id + "\n") for every chunk whose hex starts with "00". Nothing else (no
// location maps, no manifests naming them): what a repository that many other models were pushed to would show a
// command about one small model. The same repository grows 1 M -> 5 M -> 20 M: a larger size writes only the
// shards it lacks.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { forEachLimited } from './scale-lib.mjs';

export const ENTRIES_PER_SHARD = 32_768;
const CHUNKS_PER_PACK = 32;
/** Synthetic shard ids start with this, to tell them from aim's own in a listing. */
const SHARD_PREFIX = '5ca1ab1e';
const shardId = (n) => `${SHARD_PREFIX}${n.toString(16).padStart(24, '0')}`;

/** Shards needed for `entries` foreign chunks (whole shards: the count is rounded up). */
export const shardsFor = (entries) => Math.ceil(entries / ENTRIES_PER_SHARD);

/** One shard's index file and its key objects; ~3.1 MB of JSON built as one string from pieces, not a stringified tree. */
function makeShard(n) {
  const id = shardId(n);
  const hex = randomBytes(32 * ENTRIES_PER_SHARD).toString('hex');
  const packs = [];
  const keys = [];
  for (let first = 0; first < ENTRIES_PER_SHARD; first += CHUNKS_PER_PACK) {
    const entries = [];
    let offset = 0;
    for (let i = first; i < first + CHUNKS_PER_PACK; i++) {
      const digest = hex.slice(i * 64, i * 64 + 64);
      const size = 262_144 + randomInt(524_288);
      entries.push(`["blake3:${digest}",${offset},${size}]`);
      offset += size;
      if (digest.startsWith('00')) keys.push(`keys/${digest.slice(2, 4)}/${digest}`);
    }
    packs.push(`"${randomBytes(16).toString('hex')}":[${entries.join(',')}]`);
  }
  return { key: `index/${id}.json`, body: Buffer.from(`{"format":1,"packs":{${packs.join(',')}}}\n`), keys, keyBody: Buffer.from(`${id}\n`) };
}

/**
 * Where shards go: a folder (files written directly) or an S3 prefix (PUTs). How many shards a repository has been
 * given is kept in `stateFile` (in the work folder), not counted in the repository: an older aim merges small index
 * files into one and deletes them, and the repository still names their chunks.
 */
export function folderTarget(root, stateFile) {
  const made = new Set();
  return {
    stateFile,
    async put(key, body) {
      const folder = dirname(join(root, key));
      if (!made.has(folder)) await mkdir(folder, { recursive: true }), made.add(folder);
      await writeFile(join(root, key), body);
    },
  };
}

export async function s3Target(s3, prefix, stateFile) {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  return {
    stateFile,
    async put(key, body) {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${key}`, Body: body }));
    },
  };
}

const shardsGiven = async (target) => (await readFile(target.stateFile, 'utf8').then(JSON.parse, () => ({ shards: 0 }))).shards;

/**
 * Grows the foreign metadata at `target` to `entries` chunks; returns what it wrote. Shards are made one at a time
 * (~3 MB each) and their writes overlap: `parallel` writes in flight.
 */
export async function synthesize(target, entries, { parallel = 16, log = () => {} } = {}) {
  const want = shardsFor(entries);
  const have = await shardsGiven(target);
  let keys = 0;
  let bytes = 0;
  let done = 0;
  const started = Date.now();
  const numbers = Array.from({ length: Math.max(0, want - have) }, (_, i) => have + i);
  // A few shards at once, each with its key objects in parallel: an object store answers each PUT with latency.
  await forEachLimited(numbers, 4, async (n) => {
    const shard = makeShard(n);
    keys += shard.keys.length;
    bytes += shard.body.length;
    await target.put(shard.key, shard.body);
    await forEachLimited(shard.keys, parallel, (key) => target.put(key, shard.keyBody));
    if (++done % 50 === 0) log(`  synthesized ${have + done}/${want} shards (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });
  await writeFile(target.stateFile, `${JSON.stringify({ shards: Math.max(have, want) })}\n`);
  return { shards: want, written: want - Math.min(have, want), keys, bytes, entries: want * ENTRIES_PER_SHARD, seconds: (Date.now() - started) / 1000 };
}
