import { constants } from 'node:fs';
import { chmod, link, mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { IntegrityError } from '../../lib/errors.js';
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

export async function writeModelFiles(source: LayoutSource, plan: ImportPlan, root: string, task: ProgressTask): Promise<number> {
  const linked = new Set<string>();
  let files = 0;
  for (const layer of plan.layers) {
    if (layer.packing.kind === 'raw') {
      await writeRawLayer(source, layer, root, linked);
      task.advance(layer.descriptor.size);
      files++;
    } else {
      files += await unpackTarLayer(source, layer, layer.packing.compression === 'gzip', root, task);
    }
    if (files > MAX_MANIFEST_FILES) throw new IntegrityError(`${source.where} holds more than ${MAX_MANIFEST_FILES} files`, { hint });
  }
  return files;
}

async function writeRawLayer(source: LayoutSource, layer: PlannedLayer, root: string, linked: Set<string>): Promise<void> {
  const target = await placeFor(root, layer.path!, source.where);
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

async function unpackTarLayer(source: LayoutSource, layer: PlannedLayer, gzip: boolean, root: string, task: ProgressTask): Promise<number> {
  const extract = tar.extract();
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const bytes of source.blobChunks(layer.descriptor)) {
      task.advance(bytes.length);
      yield bytes;
    }
  };
  const reading = gzip ? pipeline(Readable.from(counted()), createGunzip(), extract) : pipeline(Readable.from(counted()), extract);
  reading.catch(() => undefined); // awaited below; a failure also ends the loop
  let files = 0;
  try {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      const type = entry.header.type ?? 'file';
      if (type === 'directory') {
        if (name !== '' && name !== '.') await mkdir(await placeFor(root, name, source.where), { recursive: true });
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') throw new IntegrityError(`layer ${layer.descriptor.digest} of ${source.where} holds ${describeValue(name)}, a ${type === 'link' ? 'hard link' : type}; aim unpacks only files`, { hint });
      const target = await placeFor(root, name, source.where);
      await writeNew(target, name, source.where, entry as AsyncIterable<unknown> as AsyncIterable<Buffer>);
      await chmod(target, ((entry.header.mode ?? 0o644) & 0o777) | 0o400);
      files++;
    }
    await reading;
  } catch (error) {
    extract.destroy();
    throw asTarError(error, `layer ${layer.descriptor.digest} of ${source.where}`);
  }
  return files;
}

/** The file's place under `root`, its folders made; the name checked by the rule every manifest path follows. */
async function placeFor(root: string, path: string, where: string): Promise<string> {
  const unsafe = unsafePathReason(path);
  if (unsafe) throw new IntegrityError(`${where} names the file ${describeValue(path)}, which ${unsafe}`, { hint });
  const target = join(root, ...path.split('/'));
  await mkdir(dirname(target), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' || error.code === 'ENOTDIR' ? new IntegrityError(`${where} names ${describeValue(path)} inside another file`, { hint }) : error;
  });
  return target;
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
