import { constants } from 'node:fs';
import { chmod, link, mkdir, open, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { IntegrityError, StorageError } from '../../lib/errors.js';
import { unsafePathReason } from '../format/paths.js';
import { MAX_MANIFEST_FILES } from '../format/schemas/limits.js';
import { describeValue } from '../format/schemas/parse.js';
import type { ProgressTask } from '../progress.js';
import type { LayoutSource } from './layout-source.js';
import type { ImportPlan, PlannedLayer } from './import-plan.js';
import { asTarError } from './tar-source.js';

// The files of an imported model, laid out in a private folder for push to read: a raw layer is its file (a hard
// link to the verified blob when there is one, else a copy checked as it is made); a tar layer is unpacked, each
// entry's name held to the same rule as a manifest's paths. Files are created exclusively, so two layers naming one
// path, or a name reaching through another file, are refused; links inside a layer tar are refused.

const hint = 'the layout is damaged or hostile: nothing was imported';

/**
 * Folders the files may sit in: a million at most, and 16 new ones per entry on average, plus a few deep paths. A
 * model's folders hold several files each; a path of 500 new folders per entry is the shape of an inode bomb.
 */
const MAX_FOLDERS = MAX_MANIFEST_FILES;
const FOLDERS_PER_ENTRY = 16;
const FOLDERS_SLACK = 1024;

/**
 * What unpacking may still take. A gzip layer's size bounds nothing it unpacks to, so each entry's size (in its
 * header, before its bytes) is held to the disk's free space, and the file count is checked per entry, before a
 * million empty files are made. Folders are counted too: one 1,000-byte path may be 500 new folders deep.
 */
class UnpackBudget {
  files = 0;
  private folderEntries = 0;
  private unpackedBytes = 0;
  private readonly folders = new Set<string>();

  constructor(private readonly where: string, private readonly root: string, private readonly freeBytes: number) {}

  static async of(where: string, root: string): Promise<UnpackBudget> {
    const free = await statfs(root);
    return new UnpackBudget(where, root, free.bavail * free.bsize);
  }

  addFile(bytes: number): void {
    this.add(1, bytes);
  }

  /** Counts `folder` (a path inside the model, '' for its root) and those above it not counted yet, before they are made. */
  addFolders(folder: string): void {
    // Once a folder is counted, so are all those above it: the walk up stops there.
    for (let at = folder; at !== '' && !this.folders.has(at); at = at.slice(0, Math.max(0, at.lastIndexOf('/')))) this.folders.add(at);
    const entries = this.files + this.folderEntries;
    if (this.folders.size > Math.min(MAX_FOLDERS, FOLDERS_PER_ENTRY * entries + FOLDERS_SLACK)) {
      throw new IntegrityError(`${this.where} makes ${this.folders.size} folders for ${entries} entries, more than a model needs`, { hint });
    }
  }

  /** A layer tar's folder entry: counted as an entry, its folders by addFolders. */
  addFolderEntry(): void {
    this.folderEntries++;
  }

  add(files: number, bytes: number): void {
    this.files += files;
    this.unpackedBytes += bytes;
    if (this.files > MAX_MANIFEST_FILES) throw new IntegrityError(`${this.where} holds more than ${MAX_MANIFEST_FILES} files`, { hint });
    if (this.unpackedBytes > this.freeBytes) {
      throw new StorageError(`${this.where} unpacks to more than the ${this.freeBytes} bytes free in ${this.root}`, {
        hint: 'free some space, or point AIM_HOME at a larger disk; a small layer unpacking to that much may be a compression bomb',
      });
    }
  }
}

/** What a tar holds per entry besides its bytes: its header, and a pax header for a long name or a big size. */
const ENTRY_OVERHEAD_BYTES = 16 * 1024;
/**
 * What a tar holds besides its entries: its end blocks, a writer's padding to its record size, one long header (the
 * tar parser takes up to 4 MiB), and what the pipeline reads ahead of the parser.
 */
const TAR_SLACK_BYTES = 8 * 1024 * 1024;

/**
 * A gzip layer's unpacked bytes held to what its entries account for. The budget bounds what the entries claim;
 * this bounds the rest: a MiB of gzip unpacks to a GiB of zeros the tar parser reads as end blocks, no entry's,
 * costing seconds of CPU each, so a small layer could keep an import busy for hours.
 */
class UnpackedBound extends Transform {
  private passed = 0;
  private allowed = TAR_SLACK_BYTES;

  constructor(private readonly what: string) {
    super();
  }

  /** An entry came out of the parser: its bytes (and header) may come through. */
  allow(entryBytes: number): void {
    this.allowed += ENTRY_OVERHEAD_BYTES + entryBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.passed += chunk.length;
    if (this.passed <= this.allowed) return done(null, chunk);
    done(new IntegrityError(`${this.what} unpacks to more than its entries hold (over ${this.allowed} bytes): a compression bomb, or damaged`, { hint }));
  }
}

export async function writeModelFiles(source: LayoutSource, plan: ImportPlan, root: string, task: ProgressTask): Promise<number> {
  const linked = new Set<string>();
  const budget = await UnpackBudget.of(source.where, root);
  // The manifest tells every raw layer's size: all are claimed before the first is written, not one by one until
  // the disk is full.
  budget.add(...rawLayerClaim(source, plan.layers));
  for (const layer of plan.layers) {
    if (layer.packing.kind === 'raw') {
      await writeRawLayer(source, layer, root, linked, budget);
      task.advance(layer.descriptor.size);
    } else {
      await unpackTarLayer(source, layer, layer.packing.compression === 'gzip', root, task, budget);
    }
  }
  return budget.files;
}

/**
 * The files and bytes raw layers become: a copy each, but for a blob a tar held, named the first time, which is linked
 * (the tar's blobs were held to the free space as they were unpacked). Any number of layers may name one blob.
 */
function rawLayerClaim(source: LayoutSource, layers: readonly PlannedLayer[]): [files: number, bytes: number] {
  const named = new Set<string>();
  let files = 0;
  let bytes = 0;
  for (const layer of layers) {
    if (layer.packing.kind !== 'raw') continue;
    files++;
    if (!source.verifiedBlobPath || named.has(layer.descriptor.digest)) bytes += layer.descriptor.size;
    named.add(layer.descriptor.digest);
  }
  return [files, bytes];
}

async function writeRawLayer(source: LayoutSource, layer: PlannedLayer, root: string, linked: Set<string>, budget: UnpackBudget): Promise<void> {
  const target = await placeFor(root, layer.path!, source.where, budget);
  const blob = source.verifiedBlobPath?.(layer.descriptor);
  // A blob is linked once: two names for one inode would share one mode.
  if (blob && !linked.has(blob)) {
    linked.add(blob);
    await link(blob, target).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? twice(layer.path!, source.where) : error;
    });
  } else {
    await writeNew(target, layer.path!, source.where, source.blobChunks(layer.descriptor));
  }
  await chmod(target, layer.mode);
}

async function unpackTarLayer(source: LayoutSource, layer: PlannedLayer, gzip: boolean, root: string, task: ProgressTask, budget: UnpackBudget): Promise<void> {
  const extract = tar.extract();
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const bytes of source.blobChunks(layer.descriptor)) {
      task.advance(bytes.length);
      yield bytes;
    }
  };
  const what = `layer ${layer.descriptor.digest} of ${source.where}`;
  // An uncompressed layer is bounded by its blob's size; a gzip one only by what its entries account for.
  const bound = gzip ? new UnpackedBound(what) : undefined;
  const reading = bound ? pipeline(Readable.from(counted()), createGunzip(), bound, extract) : pipeline(Readable.from(counted()), extract);
  reading.catch(() => undefined); // awaited below; a failure also ends the loop
  try {
    for await (const entry of extract) {
      bound?.allow(entry.header.size ?? 0);
      const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      // tar-stream gives no type for a flag it does not know (a GNU sparse file, a volume label): not a file either.
      const type = entry.header.type;
      if (type === 'directory') {
        if (name !== '' && name !== '.') await makeFolder(root, name, source.where, budget);
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') throw new IntegrityError(`${what} holds ${describeValue(name)}, ${entryKind(type)}; aim unpacks only files`, { hint });
      budget.addFile(entry.header.size ?? 0);
      const target = await placeFor(root, name, source.where, budget);
      await writeNew(target, name, source.where, entry as AsyncIterable<unknown> as AsyncIterable<Buffer>);
      await chmod(target, ((entry.header.mode ?? 0o644) & 0o777) | 0o400);
    }
    await reading;
  } catch (error) {
    extract.destroy();
    throw asTarError(error, what);
  }
}

/** The file's place under `root`, its folders counted and made; the name checked by the rule every manifest path follows. */
async function placeFor(root: string, path: string, where: string, budget: UnpackBudget): Promise<string> {
  const unsafe = unsafePathReason(path);
  if (unsafe) throw new IntegrityError(`${where} names the file ${describeValue(path)}, which ${unsafe}`, { hint });
  budget.addFolders(path.slice(0, Math.max(0, path.lastIndexOf('/'))));
  const target = join(root, ...path.split('/'));
  await mkdir(dirname(target), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' || error.code === 'ENOTDIR' ? new IntegrityError(`${where} names ${describeValue(path)} inside another file`, { hint }) : error;
  });
  return target;
}

function entryKind(type: tar.Header['type'] | null): string {
  if (!type) return 'an entry of a type aim does not know';
  return type === 'link' ? 'a hard link' : `a ${type}`;
}

/** A folder entry of a layer tar, made under `root`; a file of that name made before it makes the layer refused. */
async function makeFolder(root: string, path: string, where: string, budget: UnpackBudget): Promise<void> {
  budget.addFolderEntry();
  const target = await placeFor(root, path, where, budget);
  budget.addFolders(path);
  await mkdir(target, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' || error.code === 'ENOTDIR' ? new IntegrityError(`${where} names ${describeValue(path)} both as a file and as a folder`, { hint }) : error;
  });
}

function twice(path: string, where: string): IntegrityError {
  return new IntegrityError(`${where} names the file ${describeValue(path)} twice`, { hint });
}

async function writeNew(target: string, path: string, where: string, chunks: AsyncIterable<Buffer>): Promise<void> {
  const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' || error.code === 'EISDIR' ? twice(path, where) : error;
  });
  try {
    for await (const bytes of chunks) await handle.write(bytes);
  } finally {
    await handle.close();
  }
}
