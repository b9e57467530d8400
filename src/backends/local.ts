import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { isTempName, syncFiles, writeAtomic, writeAtomicIfAbsent } from '../lib/atomic-write.js';
import { readFileRange } from '../lib/direct-io.js';
import { NotFoundError, StorageError } from '../lib/errors.js';
import { type Backend, type DeferredSync, MAX_OBJECT_BYTES, type ObjectInfo, objectTooLarge } from './backend.js';

/**
 * A repository in a folder on local disk or an NFS mount. Every write is temp file + fsync + rename, except packs,
 * which a push writes unsynced (temp file + link) and syncs together before its index names them (DeferredSync).
 */
export class LocalBackend implements Backend, DeferredSync {
  readonly location: string;

  constructor(root: string) {
    this.location = resolve(root);
  }

  private pathOf(key: string): string {
    return join(this.location, ...key.split('/'));
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
    const size = (await stat(this.pathOf(key)).catch(() => undefined))?.size ?? 0;
    if (size > maxBytes) throw objectTooLarge(this.location, key, size, maxBytes);
    return readFile(this.pathOf(key)).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    return buffer.subarray(0, await this.readInto(key, buffer, offset));
  }

  async readInto(key: string, target: Uint8Array, offset = 0): Promise<number> {
    return readFileRange(this.pathOf(key), target, offset).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    return info?.isFile() ? { key, size: info.size } : undefined;
  }

  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    return writeAtomicIfAbsent(this.pathOf(key), data).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async putIfAbsentUnsynced(key: string, data: Uint8Array): Promise<boolean> {
    return writeAtomicIfAbsent(this.pathOf(key), data, { durable: false }).catch((error) => {
      throw this.translate(error, key);
    });
  }

  async sync(keys: string[]): Promise<void> {
    await syncFiles(keys.map((key) => this.pathOf(key))).catch((error: NodeJS.ErrnoException) => {
      throw this.translate(error, error.path ? relative(this.location, error.path).split(sep).join('/') : '');
    });
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await writeAtomic(this.pathOf(key), data).catch((error) => {
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
    const folder = folderKey ? this.pathOf(folderKey) : this.location;
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw this.translate(error, folderKey);
    });
    for (const entry of entries) {
      const key = folderKey ? `${folderKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && !isTempName(entry.name) && key.startsWith(prefix)) {
        const info = await stat(join(folder, entry.name)).catch(() => undefined);
        if (info) yield { key, size: info.size };
      }
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw this.translate(error, key);
    });
  }

  /** Creates the repository folder; used by `aim repo create`. */
  async create(): Promise<void> {
    await mkdir(this.location, { recursive: true });
  }

  private translate(error: NodeJS.ErrnoException, key: string): Error {
    const where = `${this.location}${sep}${key}`;
    switch (error.code) {
      case 'ENOENT':
        return new NotFoundError(`${key} not found in ${this.location}`, { cause: error });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new StorageError(`cannot write ${where}: permission denied`, {
          hint: 'check the folder permissions and that the mount is read-write',
          cause: error,
        });
      case 'ENOSPC':
      case 'EDQUOT':
        return new StorageError(`no space left on the device holding ${this.location}`, {
          hint: 'free some space or use another repository; the next push resumes where this one stopped',
          cause: error,
        });
      default:
        return error;
    }
  }
}
