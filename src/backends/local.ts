import { constants } from 'node:fs';
import { keySegments } from './key-segments.js';
import { access, lstat, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { isTempName, syncFiles, writeAtomic, writeAtomicIfAbsent } from '../lib/atomic-write.js';
import { readFileRange } from '../lib/direct-io.js';
import { NotFoundError, StorageError } from '../lib/errors.js';
import { fsError } from '../lib/fs-errors.js';
import { FileTooLargeError, readRegularFile, realFolder } from '../lib/safe-fs.js';
import { type Backend, type DeferredSync, MAX_OBJECT_BYTES, type ObjectInfo, objectTooLarge } from './backend.js';

/**
 * A repository in a folder on local disk or an NFS mount. Every write is temp file + fsync + rename, except packs,
 * which a push writes unsynced (temp file + link) and syncs together before its index names them (DeferredSync).
 *
 * Anyone who can write the folder may have planted anything in it, so every key is reached through real folders
 * only (a symlinked `models/<model>` would carry tag writes out of the repository) and only regular files are
 * opened (a FIFO would block forever, a device read without end): see lib/safe-fs.
 */
export class LocalBackend implements Backend, DeferredSync {
  readonly location: string;
  readonly localFiles = true;

  constructor(root: string) {
    this.location = resolve(root);
  }

  private pathOf(key: string): string {
    return join(this.location, ...keySegments(key, this.location));
  }

  /** The key's path, once every folder on the way to it is a real folder (made when `create`), never a link. */
  private async reach(key: string, create = false): Promise<string> {
    await realFolder(this.location, keySegments(key, this.location).slice(0, -1), { create });
    return this.pathOf(key);
  }

  async probe(mode: 'read' | 'write'): Promise<void> {
    const info = await stat(this.location).catch(() => undefined);
    if (!info) {
      throw new NotFoundError(`repository folder ${this.location} does not exist`, {
        hint: `create it (mkdir -p ${this.location}) or fix the path in model_repos.yaml`,
      });
    }
    if (!info.isDirectory()) {
      throw new StorageError(`repository path ${this.location} is not a folder`, { hint: 'point the repository at a folder' });
    }
    const flag = mode === 'write' ? constants.W_OK | constants.R_OK : constants.R_OK;
    await access(this.location, flag).catch(() => {
      throw new StorageError(`repository folder ${this.location} is not ${mode === 'write' ? 'writable' : 'readable'}`, {
        hint: 'check its permissions and that the mount is read-write',
      });
    });
  }

  async get(key: string, maxBytes = MAX_OBJECT_BYTES): Promise<Buffer> {
    return this.reach(key)
      .then((path) => readRegularFile(path, maxBytes))
      .catch((error) => {
        if (error instanceof FileTooLargeError) throw objectTooLarge(this.location, key, error.size, maxBytes);
        throw this.translate(error, key);
      });
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    return buffer.subarray(0, await this.readInto(key, buffer, offset));
  }

  async readInto(key: string, target: Uint8Array, offset = 0): Promise<number> {
    return this.reach(key)
      .then((path) => readFileRange(path, target, offset))
      .catch((error) => {
        throw this.translate(error, key);
      });
  }

  /** Undefined for a missing key (or a folder); a link or special file at the key is refused. */
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await this.reach(key)
      .then((path) => lstat(path))
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw this.translate(error, key);
      });
    if (!info || info.isDirectory()) return undefined;
    if (!info.isFile()) {
      throw new StorageError(`${this.pathOf(key)} is ${info.isSymbolicLink() ? 'a symlink' : 'not a regular file'}`, {
        hint: 'aim opens only regular files in a repository and follows no link there: remove it',
      });
    }
    return { key, size: info.size };
  }

  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    return writeAtomicIfAbsent(this.pathOf(key), data, { root: this.location }).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async putIfAbsentUnsynced(key: string, data: Uint8Array): Promise<boolean> {
    return writeAtomicIfAbsent(this.pathOf(key), data, { durable: false, root: this.location }).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async sync(keys: string[]): Promise<void> {
    await syncFiles(keys.map((key) => this.pathOf(key))).catch((error: NodeJS.ErrnoException) => {
      throw this.translate(error, error.path ? relative(this.location, error.path).split(sep).join('/') : '');
    });
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await writeAtomic(this.pathOf(key), data, { root: this.location }).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk from the deepest folder the prefix names fully, then filter by the rest of the prefix.
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(folderKey, prefix);
  }

  private async *walk(folderKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    // The folder itself too: readdir would list whatever a link there points at.
    const folder = await realFolder(this.location, folderKey ? folderKey.split('/') : []).catch((error) => {
      throw this.translate(error, folderKey);
    });
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw this.translate(error, folderKey);
    });
    for (const entry of entries) {
      const key = folderKey ? `${folderKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && !isTempName(entry.name) && key.startsWith(prefix)) {
        const info = await lstat(join(folder, entry.name)).catch(() => undefined);
        if (info?.isFile()) yield { key, size: info.size, modified: info.mtimeMs };
      }
    }
  }

  /** Removes the name (a link planted at the key goes, never what it points at). */
  async delete(key: string): Promise<void> {
    await this.reach(key)
      .then((path) => unlink(path))
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw this.translate(error, key);
      });
  }

  /** Creates the repository folder; used by `aim repo create`. */
  async create(): Promise<void> {
    await mkdir(this.location, { recursive: true });
  }

  private translate(error: NodeJS.ErrnoException, key: string): unknown {
    if (error.code === 'ENOENT') return new NotFoundError(`${key} not found in ${this.location}`, { cause: error });
    if (error.code === 'ENOSPC' || error.code === 'EDQUOT') {
      return new StorageError(`no space left on the device holding ${this.location}`, {
        hint: 'free some space or use another repository; the next push resumes where this one stopped',
        cause: error,
      });
    }
    return fsError(error, {
      path: `${this.location}${sep}${key}`,
      writableHint: 'check the folder permissions and that the mount is read-write',
    });
  }
}
