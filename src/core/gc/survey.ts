import type { Backend } from '../../backends/backend.js';
import { digestFromHex, type Digest } from '../format/digest.js';
import { PackIndex } from '../store/packs.js';
import type { Repository } from '../store/repository.js';
import { rootsOf, type Roots } from './roots.js';

// One look at everything gc judges: the roots, the whole index, and the listings of packs, pending pushes,
// manifests and location maps, each object with when it was last written (the grace period reads it).

export interface Listed {
  size: number;
  /** ms since the epoch, when the store tells; undefined counts as young unless the grace period is 0. */
  modified?: number;
}

export interface Survey {
  roots: Roots;
  index: PackIndex;
  packs: Map<string, Listed>;
  /** Push ids with a pending record: their packs may be unindexed yet (pending.ts), and are never removed. */
  pending: Set<string>;
  manifests: Map<Digest, Listed>;
  /** Location maps, by the version they describe. */
  maps: Map<Digest, Listed>;
  /** Signature objects, by the version they sign (a version may have several signers). */
  signatures: Map<Digest, SignatureObjects>;
  /** Whether a listed object is younger than the grace period. */
  young(listed: Listed): boolean;
}

const PACK_KEY = /^packs\/[0-9a-f]{2}\/([0-9a-f]{32})$/;
const PENDING_KEY = /^pending\/([0-9a-f]{16})$/;
const MANIFEST_KEY = /^manifests\/blake3\/[0-9a-f]{2}\/([0-9a-f]{64})$/;
const MAP_KEY = /^locations\/[0-9a-f]{2}\/([0-9a-f]{64})\.json$/;
const SIGNATURE_KEY = /^signatures\/[0-9a-f]{2}\/([0-9a-f]{64})\/[0-9a-f]{64}\.sig$/;

/** A version's signature objects: their keys, total size, and the newest one's time (the grace period reads it). */
export interface SignatureObjects extends Listed {
  keys: string[];
}

/** `key -> name` for every key under `prefix` the pattern matches; other keys are not aim's and are left alone. */
async function listMatching(backend: Backend, prefix: string, pattern: RegExp): Promise<Map<string, Listed>> {
  const found = new Map<string, Listed>();
  for await (const { key, size, modified } of backend.list(prefix)) {
    const name = pattern.exec(key)?.[1];
    if (name) found.set(name, { size, modified });
  }
  return found;
}

async function listSignatures(backend: Backend): Promise<Map<Digest, SignatureObjects>> {
  const found = new Map<Digest, SignatureObjects>();
  for await (const { key, size, modified } of backend.list('signatures/')) {
    const hex = SIGNATURE_KEY.exec(key)?.[1];
    if (!hex) continue;
    const seen = found.get(digestFromHex(hex));
    const newest = seen && (seen.modified === undefined || modified === undefined ? undefined : Math.max(seen.modified, modified));
    found.set(digestFromHex(hex), seen ? { size: seen.size + size, modified: newest, keys: [...seen.keys, key] } : { size, modified, keys: [key] });
  }
  return found;
}

const byDigest = (listed: Map<string, Listed>): Map<Digest, Listed> => new Map([...listed].map(([hex, info]) => [digestFromHex(hex), info]));

/** `abandoned`: push ids whose pending records protect nothing (a killed gc's own). */
export async function surveyRepository(repo: Repository, graceMs: number, abandoned: ReadonlySet<string> = new Set()): Promise<Survey> {
  const now = Date.now();
  const young = (listed: Listed): boolean => (listed.modified === undefined ? graceMs > 0 : now - listed.modified < graceMs);
  const backend = repo.backend;
  // Manifests first: a version committed after this listing has its tag written after it too, and tags are read next.
  const manifests = byDigest(await listMatching(backend, 'manifests/', MANIFEST_KEY));
  const roots = await rootsOf(repo, [...manifests].filter(([, info]) => young(info)).map(([digest]) => digest));
  // Packs, then pending records, then the index: a listed pack's push wrote its record before the pack, and deletes
  // it only after its shards name the pack, so each listed pack is either still pending or indexed below. And a
  // push's shards are written before its manifest, so every root's chunks are named too.
  const packs = await listMatching(backend, 'packs/', PACK_KEY);
  const pending = new Set([...(await listMatching(backend, 'pending/', PENDING_KEY)).keys()].filter((id) => !abandoned.has(id)));
  const index = await PackIndex.load(backend);
  const maps = byDigest(await listMatching(backend, 'locations/', MAP_KEY));
  const signatures = await listSignatures(backend);
  return { roots, index, packs, pending, manifests, maps, signatures, young };
}
