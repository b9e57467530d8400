import {
  canList,
  supportsConditionalPut,
  supportsCreate,
  supportsDeferredSync,
  type Backend,
  type ConditionalPut,
  type CreatableStorage,
  type DeferredSync,
  type ObjectInfo,
} from './backend.js';
import { compareText } from '../lib/compare-text.js';

// What a command asked of its storage: calls per operation and bytes per top-level key prefix (packs/, index/,
// locations/, keys/, manifests/, ...). The scale benchmark reads these to show that a pull of one model reads what
// that model needs and not the whole repository's index; wall time alone cannot tell a cheap folder read from a
// request an object store bills. Opt-in (AIM_IO_STATS): a wrapper around the real backend, which is left unchanged.

export type CountedOperation =
  | 'get'
  | 'getRange'
  | 'readInto'
  | 'stat'
  | 'list'
  | 'put'
  | 'putIfAbsent'
  | 'putIfAbsentUnsynced'
  | 'sync'
  | 'delete'
  | 'getVersioned'
  | 'putIfVersion';

export interface IoStatsReport {
  /** Calls per operation; each call is one request to an object store except `list` (one per page) and `sync`. */
  calls: Partial<Record<CountedOperation, number>>;
  /** Objects the listings returned, summed over every `list` call. */
  listedEntries: number;
  /** Bytes read, by top-level prefix (`index/`, `packs/`; a key without a folder stands for itself). */
  bytesRead: Record<string, number>;
  bytesWritten: Record<string, number>;
}

/** The counts of one command; every backend it opens through `countingBackend` adds to the same totals. */
export class IoStats {
  private readonly calls = new Map<CountedOperation, number>();
  private readonly read = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private listed = 0;

  call(operation: CountedOperation): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
  }

  bytesRead(key: string, bytes: number): void {
    addTo(this.read, prefixOf(key), bytes);
  }

  bytesWritten(key: string, bytes: number): void {
    addTo(this.written, prefixOf(key), bytes);
  }

  entryListed(): void {
    this.listed++;
  }

  report(): IoStatsReport {
    return {
      calls: Object.fromEntries([...this.calls].sort(([a], [b]) => compareText(a, b))),
      listedEntries: this.listed,
      bytesRead: Object.fromEntries([...this.read].sort(([a], [b]) => compareText(a, b))),
      bytesWritten: Object.fromEntries([...this.written].sort(([a], [b]) => compareText(a, b))),
    };
  }
}

function addTo(totals: Map<string, number>, prefix: string, bytes: number): void {
  totals.set(prefix, (totals.get(prefix) ?? 0) + bytes);
}

/** `index/ab.json` -> `index/`; `aim-repo.json` stays itself. */
function prefixOf(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0 ? key : key.slice(0, slash + 1);
}

/**
 * `inner`, counting into `stats`. The optional capabilities (readInto, compare-and-swap, deferred sync, create) are
 * offered only when `inner` has them: callers detect them at run time, so the wrapper must not pretend.
 */
export function countingBackend(inner: Backend, stats: IoStats): Backend {
  const counted: Backend & { listable?: boolean } = {
    location: inner.location,
    localFiles: inner.localFiles,
    // Whether the store can list is the inner one's (a web server cannot): canList reads it here.
    listable: canList(inner),
    probe: (mode) => inner.probe(mode),
    async get(key, maxBytes) {
      stats.call('get');
      const data = await inner.get(key, maxBytes);
      stats.bytesRead(key, data.length);
      return data;
    },
    async getRange(key, offset, length) {
      stats.call('getRange');
      const data = await inner.getRange(key, offset, length);
      stats.bytesRead(key, data.length);
      return data;
    },
    stat(key) {
      stats.call('stat');
      return inner.stat(key);
    },
    putIfAbsent(key, data) {
      stats.call('putIfAbsent');
      stats.bytesWritten(key, data.length);
      return inner.putIfAbsent(key, data);
    },
    put(key, data) {
      stats.call('put');
      stats.bytesWritten(key, data.length);
      return inner.put(key, data);
    },
    list: (prefix) => countedListing(inner.list(prefix), stats),
    delete(key) {
      stats.call('delete');
      return inner.delete(key);
    },
    close: inner.close && (() => inner.close!()),
  };
  if (inner.readInto) {
    const readInto = inner.readInto.bind(inner);
    counted.readInto = async (key, target, offset) => {
      stats.call('readInto');
      const bytes = await readInto(key, target, offset);
      stats.bytesRead(key, bytes);
      return bytes;
    };
  }
  return Object.assign(counted, conditionalPut(inner, stats), deferredSync(inner, stats), creatable(inner));
}

async function* countedListing(listing: AsyncIterable<ObjectInfo>, stats: IoStats): AsyncIterable<ObjectInfo> {
  stats.call('list');
  for await (const entry of listing) {
    stats.entryListed();
    yield entry;
  }
}

function conditionalPut(inner: Backend, stats: IoStats): Partial<ConditionalPut> {
  if (!supportsConditionalPut(inner)) return {};
  return {
    async getVersioned(key, maxBytes) {
      stats.call('getVersioned');
      const found = await inner.getVersioned(key, maxBytes);
      if (found) stats.bytesRead(key, found.data.length);
      return found;
    },
    putIfVersion(key, data, expected) {
      stats.call('putIfVersion');
      stats.bytesWritten(key, data.length);
      return inner.putIfVersion(key, data, expected);
    },
  };
}

function deferredSync(inner: Backend, stats: IoStats): Partial<DeferredSync> {
  if (!supportsDeferredSync(inner)) return {};
  return {
    putIfAbsentUnsynced(key, data) {
      stats.call('putIfAbsentUnsynced');
      stats.bytesWritten(key, data.length);
      return inner.putIfAbsentUnsynced(key, data);
    },
    sync(keys) {
      stats.call('sync');
      return inner.sync(keys);
    },
  };
}

function creatable(inner: Backend): Partial<CreatableStorage> {
  return supportsCreate(inner) ? { create: () => inner.create() } : {};
}
