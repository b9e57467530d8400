import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { syncFile, tempPathFor } from '../../lib/atomic-write.js';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import type { Repository } from '../store/repository.js';
import type { VersionSelector } from '../store/resolve.js';
import { exportVersion, type ExportOptions, type ExportResult } from './export.js';
import { removedOnExit } from './removed-on-exit.js';
import { LayoutFolderWriter } from './layout-folder-writer.js';
import { LayoutTarWriter } from './layout-tar-writer.js';
import { rewriteTarNames } from './tar-names.js';

/**
 * `aim export -o -`: the tar into a stream the caller keeps (standard output), through a writer of its own, so a
 * failed export stops writing without ending or destroying that stream (the CLI then prints its one error line).
 */
export function exportToStream(repo: Repository, selector: VersionSelector, target: NodeJS.WritableStream, options: ExportOptions = {}): Promise<ExportResult> {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (target.write(chunk)) done();
      else target.once('drain', () => done());
    },
    final(done) {
      target.write('', () => done());
    },
  });
  return exportVersion(repo, selector, { writer: new LayoutTarWriter(stream) }, options);
}

/** `aim export -o DIR --layout dir`: a new layout folder, written beside DIR and renamed into place when whole. */
export async function exportToFolder(repo: Repository, selector: VersionSelector, path: string, options: ExportOptions = {}): Promise<ExportResult> {
  if (await lstat(path).catch(() => undefined)) throw new UsageError(`${path} already exists`, { hint: 'name a new folder for the layout' });
  const temp = tempPathFor(path);
  await mkdir(temp).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new NotFoundError(`folder ${dirname(path)} does not exist`, { hint: 'create it first, or write the layout elsewhere' }) : error;
  });
  const forget = removedOnExit(temp);
  try {
    const writer = new LayoutFolderWriter(temp);
    const result = await exportVersion(repo, selector, { writer, rewriteNames: (patches) => writer.rewriteNames(patches) }, options);
    await rename(temp, path);
    return result;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  } finally {
    forget();
  }
}

/** `aim export -o FILE`: the tar written beside FILE, each layer read once, renamed into place when whole. */
export function exportToFile(repo: Repository, selector: VersionSelector, path: string, options: ExportOptions = {}): Promise<ExportResult> {
  return writeFileThrough(path, (stream, temp) => exportVersion(repo, selector, { writer: new LayoutTarWriter(stream), rewriteNames: (patches) => rewriteTarNames(temp, patches) }, options));
}

/**
 * Runs `write` into a new temp file beside `path` (created exclusively) and renames it into place only once every
 * byte is written and synced: an export stopped midway (an error, Ctrl-C) never leaves a half tar under the name a
 * user asked for. `write` resolves once the stream has taken its last byte and closed; it may then rewrite the
 * temp file in place, by the path it is given.
 */
export async function writeFileThrough<T>(path: string, write: (out: Writable, tempPath: string) => Promise<T>): Promise<T> {
  await refuseNonFile(path);
  const temp = tempPathFor(path);
  // Opened here, not by the stream, so that a folder that does not exist fails this call rather than the stream.
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new NotFoundError(`folder ${dirname(path)} does not exist`, { hint: 'create it first, or write the tar elsewhere' }) : error;
  });
  const out = handle.createWriteStream();
  const forget = removedOnExit(temp);
  try {
    const result = await write(out, temp);
    await syncFile(temp);
    await rename(temp, path);
    return result;
  } catch (error) {
    out.destroy();
    await unlink(temp).catch(() => undefined);
    throw error;
  } finally {
    forget();
  }
}

/**
 * The name must be free or hold a regular file: the rename at the end replaces whatever is there, and `-o /dev/stdout`
 * or `-o /dev/null` (run as root) would put a file where a device or the system's link was. A link is refused too,
 * rather than replaced by a file its owner did not expect.
 */
async function refuseNonFile(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined || info.isFile()) return;
  if (info.isDirectory()) throw new UsageError(`${path} is a folder`, { hint: `name the tar file to write, e.g. ${join(path, 'model.tar')}` });
  const what = info.isSymbolicLink() ? 'a link' : info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device';
  throw new UsageError(`${path} is ${what}, not a file: the tar is written beside it and renamed into place, which would replace it`, {
    hint: 'write to standard output with -o - (e.g. `-o - | other-tool`), or name a regular file',
  });
}
