// The storage interface: a tiny key/value store. Everything content-addressed (digests, manifests, tags, dedupe)
// lives above it in core, so a new backend only has to move bytes. test/backends/conformance.ts is the contract;
// every implementation runs it unchanged.
//
// Keys are `/`-separated relative paths such as `blobs/blake3/ab/ab12...`. Backends translate their native errors
// once, here at the edge: a missing key is a NotFoundError, a denied or full store a StorageError, each with a hint.

import { IntegrityError } from '../lib/errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** When the object was last written (ms since the epoch), where a listing tells: gc's grace period reads it. */
  modified?: number;
}

export interface Backend {
  /** Where the data lives, for messages: a folder path or s3://bucket/prefix. Never contains secrets. */
  readonly location: string;

  /** Checks the store can be used: exists and (for 'write') is writable. Throws a plain error with a hint. */
  probe(mode: 'read' | 'write'): Promise<void>;

  /**
   * Whole object. NotFoundError if the key does not exist. An object larger than `maxBytes` (default
   * MAX_OBJECT_BYTES) is an IntegrityError, refused from its size without being read: the caller knows how large
   * what it reads can honestly be (a tag is tiny, a manifest or an index bounded), and a repository is shared, so a
   * key may hold anything.
   */
  get(key: string, maxBytes?: number): Promise<Buffer>;

  /** `length` bytes from `offset` (clamped at the end). NotFoundError if the key does not exist. */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;

  /**
   * Optional: reads up to `target.length` bytes from `offset` into `target` (reused buffers spare the garbage
   * collector on big pulls); returns how many bytes there were. NotFoundError if the key does not exist. Without
   * `offset` the caller expects the whole object to fit (an object store may then skip the byte range).
   */
  readInto?(key: string, target: Uint8Array, offset?: number): Promise<number>;

  /**
   * Optional: true when objects are files on this machine's disks (a folder): a reader may then let reads land in
   * shared memory, which JavaScript copies from a network reply would fill a byte at a time.
   */
  readonly localFiles?: boolean;

  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Stores an immutable object atomically unless the key already exists. Returns true if written, false if the key
   * was already there (content-addressed keys hold the same bytes, so this is not an error).
   */
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean>;

  /** Creates or replaces a mutable object (tags, aim-repo.json, index.json) atomically. */
  put(key: string, data: Uint8Array): Promise<void>;

  /** Every object whose key starts with `prefix`, in no particular order. Temp files of killed writers are skipped. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** Releases sockets or handles. */
  close?(): Promise<void>;
}

/**
 * Optional capability: compare-and-swap of a mutable key. `expected` is the previous content's version token as
 * returned by `getVersioned` (undefined = the key must not exist). Throws ConflictError when another writer won.
 * Backends that cannot do this atomically do not implement it; see README for what racing tag pushes can do then.
 */
export interface ConditionalPut {
  /** As `get`, with the content's version token; undefined when the key does not exist. */
  getVersioned(key: string, maxBytes?: number): Promise<{ data: Buffer; version: string } | undefined>;
  putIfVersion(key: string, data: Uint8Array, expected: string | undefined): Promise<void>;
}

/** The most `get` reads of one object when its caller names no bound: far above any manifest or index aim writes. */
export const MAX_OBJECT_BYTES = 1024 * 1024 * 1024;

/**
 * An object larger than its reader allows, refused unread. `size` is undefined when no length was announced and the
 * bytes passed the bound while streaming. Callers that know what the key holds say so in their own words.
 */
export class ObjectTooLargeError extends IntegrityError {
  constructor(
    location: string,
    readonly key: string,
    readonly size: number | undefined,
    readonly maxBytes: number,
  ) {
    const actual = size === undefined ? 'more than' : `${size} bytes, more than`;
    super(`${key} in ${location} is ${actual} the ${maxBytes} bytes such an object can hold; not reading it`, {
      hint: 'something other than aim wrote that key: run `aim verify` on the repository, and delete or re-push what it names',
    });
  }
}

export function objectTooLarge(location: string, key: string, size: number | undefined, maxBytes: number): ObjectTooLargeError {
  return new ObjectTooLargeError(location, key, size, maxBytes);
}

export function supportsConditionalPut(backend: Backend): backend is Backend & ConditionalPut {
  const candidate = backend as Partial<ConditionalPut>;
  return typeof candidate.getVersioned === 'function' && typeof candidate.putIfVersion === 'function';
}

/**
 * Optional capability: writes made durable later, all at once. A local folder fsyncs every object it writes, and
 * every fsync flushes the disk's write cache, which costs a pack write far more than its bytes do. A push needs its packs durable only before its index file names them, so it
 * writes them unsynced and syncs them together. Object stores need none of this: a PUT is durable when it returns.
 */
export interface DeferredSync {
  /** putIfAbsent without waiting for the bytes to be durable; a power cut may lose them until `sync`. */
  putIfAbsentUnsynced(key: string, data: Uint8Array): Promise<boolean>;
  /** Makes the objects under `keys`, and their names, durable. */
  sync(keys: string[]): Promise<void>;
}

export function supportsDeferredSync(backend: Backend): backend is Backend & DeferredSync {
  const candidate = backend as Partial<DeferredSync>;
  return typeof candidate.putIfAbsentUnsynced === 'function' && typeof candidate.sync === 'function';
}

/** Optional capability: makes the storage itself exist (a folder). An object store's bucket is its operator's to make. */
export interface CreatableStorage {
  create(): Promise<void>;
}

export function supportsCreate(backend: Backend): backend is Backend & CreatableStorage {
  return typeof (backend as Partial<CreatableStorage>).create === 'function';
}

/**
 * Whether `list` works. A static web server (type http) cannot list: read paths that would list use the index files
 * instead, and say plainly when a repository lacks them.
 */
export function canList(backend: Backend): boolean {
  return (backend as { listable?: boolean }).listable !== false;
}

export interface RepoLocation {
  type: 'local' | 's3' | 'http';
  /** A folder, s3://bucket/prefix, or (type http) the URL of the published repository folder. */
  path: string;
  region?: string;
  endpoint?: string;
  profile?: string;
  /** S3 checksum behaviour, see docs/s3.md, "Checksums". */
  checksums?: 'when_required' | 'when_supported';
  concurrency?: number;
  /** Whether a new repository gathers chunks into packs (default: yes on S3); read when aim-repo.json is created. */
  packs?: boolean;
}
