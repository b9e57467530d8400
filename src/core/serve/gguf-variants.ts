// Each GGUF variant of a version with its memory need, for `inspect`: the weights plus the KV cache that `run`'s
// default context needs, computed from the model's shape in the header. The header comes from the installed files
// when the version is installed, else from the first chunks of the file in the repository (a header is at the
// start of a GGUF; read through a fetch that serves those verified bytes, so nothing is written anywhere). A header
// that does not fit in them, or does not parse, leaves the engine's rough bound (exact: false).
import { basename, join } from 'node:path';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import type { GgufHeader } from '../format/gguf.js';
import type { Repository } from '../store/repository.js';
import type { Digest } from '../format/digest.js';
import { isFirstGgufFile } from '../../serving/gguf-shard-name.js';
import { ggufVariants, type GgufVariant } from './quant-fit.js';

/** Bytes of a file's start read to find its header: real vocabularies make headers of several MiB. */
const HEADER_BYTES = 16 * 1024 * 1024;

/** A fetch over bytes in memory, answering range requests as a server would. */
function fetchFrom(bytes: Buffer): typeof fetch {
  return (async (_url: unknown, init?: RequestInit) => {
    const range = /bytes=(\d+)-(\d+)?/.exec(new Headers(init?.headers).get('range') ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] !== undefined ? Math.min(Number(range[2]) + 1, bytes.length) : bytes.length;
    if (start >= bytes.length) return new Response(null, { status: 416 });
    return new Response(new Uint8Array(bytes.subarray(start, end)), { status: range ? 206 : 200, headers: { 'content-length': String(end - start) } });
  }) as typeof fetch;
}

async function parseHeader(bytes: Buffer): Promise<Pick<GgufHeader, 'metadata'> | undefined> {
  const { gguf } = await import('@huggingface/gguf');
  try {
    const parsed = await gguf('https://aim.invalid/model.gguf', { fetch: fetchFrom(bytes) });
    return { metadata: parsed.metadata as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

async function remoteHeader(repo: Repository, digest: Digest, manifest: Manifest, file: ManifestFile): Promise<Pick<GgufHeader, 'metadata'> | undefined> {
  const locations = await repo.locationsFor(digest, manifest);
  const parts: Buffer[] = [];
  let read = 0;
  for (const chunk of file.chunks) {
    if (read >= HEADER_BYTES) break;
    parts.push(await repo.getChunk(chunk.digest, locations, chunk.size));
    read += chunk.size;
  }
  return parseHeader(Buffer.concat(parts));
}

export interface VariantSources {
  /** A folder holding the version's files (installed), read first. */
  folder?: string;
  /** The repository, for files not on disk; opened only when one is needed, and undefined when out of reach. */
  repo?: () => Promise<Repository | undefined>;
  digest: Digest;
}

/** The version's GGUF variants with memory needs, largest first. */
export async function variantsWithNeeds(manifest: Manifest, sources: VariantSources): Promise<GgufVariant[]> {
  const headers = new Map<string, Pick<GgufHeader, 'metadata'>>();
  const { readGgufHeader } = await import('../format/gguf.js');
  let repo: Promise<Repository | undefined> | undefined;
  const fromRepository = async (file: ManifestFile) => {
    repo ??= sources.repo?.() ?? Promise.resolve(undefined);
    const opened = await repo;
    return opened ? remoteHeader(opened, sources.digest, manifest, file).catch(() => undefined) : undefined;
  };
  for (const file of manifest.files.filter((f) => isFirstGgufFile(basename(f.path)))) {
    const local = sources.folder ? await readGgufHeader(join(sources.folder, ...file.path.split('/'))).catch(() => undefined) : undefined;
    const header = local ?? (await fromRepository(file));
    if (header) headers.set(file.path, header);
  }
  return ggufVariants(manifest.files, headers);
}
