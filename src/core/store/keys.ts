import type { Backend } from '../../backends/backend.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { digestHex, type Digest } from '../format/digest.js';
import { corrupt, type Format } from '../format/schemas/parse.js';
import { getBounded } from './bounded-read.js';

// Key chunks: a chunk whose digest hex starts with "00" (1 in 256, decidable from the digest alone) has a key
// object naming one index file (a "shard") that lists it. A push that meets an unknown key chunk reads that shard
// and so learns where all of its neighbours are, without reading the whole index (Hugging Face Xet's global
// dedupe works the same way). Key objects are written put-if-absent, after the shard they name is stored.
//
//   keys/<hex[2..4]>/<chunk hex>   <32 hex index file id> "\n"
//
// The first two hex digits of a key chunk are always "00", so the folder is named after the next two.

/** At most 32 hex and a newline; anything longer is not a key object. */
export const KEY_OBJECT_FORMAT: Format = {
  what: 'key object',
  maxBytes: 64,
  hint: 'delete that file (a push then reads index files to learn the chunk), or run `aim repo upgrade` to write it again',
};

const SHARD_ID = /^[0-9a-f]{32}\n?$/;

export function isKeyChunk(digest: Digest): boolean {
  return digestHex(digest).startsWith('00');
}

export function keyObjectKey(digest: Digest): string {
  const hex = digestHex(digest);
  return `keys/${hex.slice(2, 4)}/${hex}`;
}

export function keyObjectBody(shard: string): Buffer {
  return Buffer.from(`${shard}\n`);
}

/** The shard id a key object names: exactly 32 lowercase hex and an optional newline, or the format's error. */
export function parseKeyObject(bytes: Uint8Array, where: string): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (bytes.byteLength > KEY_OBJECT_FORMAT.maxBytes || !SHARD_ID.test(text)) {
    throw corrupt(KEY_OBJECT_FORMAT, where, 'it does not hold the 32-hex id of an index file');
  }
  return text.slice(0, 32);
}

/** The shard a key chunk's key object names, or undefined when it has none. */
export async function readKeyObject(backend: Backend, digest: Digest): Promise<string | undefined> {
  const key = keyObjectKey(digest);
  const where = `${key} in ${backend.location}`;
  const bytes = await getBounded(backend, key, KEY_OBJECT_FORMAT, where).catch(undefinedIfNotFound);
  return bytes && parseKeyObject(bytes, where);
}

/** Writes the key object of `digest` naming `shard` unless one exists; true when this call wrote it. */
export function writeKeyObject(backend: Backend, digest: Digest, shard: string): Promise<boolean> {
  return backend.putIfAbsent(keyObjectKey(digest), keyObjectBody(shard));
}
