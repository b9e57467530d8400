import * as v from 'valibot';
import { MAX_CATALOG_BYTES, MAX_CHUNK_BYTES, MAX_SMALL_FILE_BYTES } from './limits.js';
import { byteSize, count, digest, text, timestamp, type Format } from './parse.js';

// What aim keeps on the user's side: DEST/.aim/state.json, the stat cache and the deployment records in AIM_HOME.
// The first two are caches (a copy that does not read costs a re-read, never a wrong answer); a deployment record
// is the only memory of a running server, so a bad one is reported by name.

export const INSTALL_STATE_FORMAT: Format = {
  what: 'install state',
  maxBytes: MAX_CATALOG_BYTES,
  hint: 'delete the .aim folder of the destination; the next pull verifies the files again',
};
export const STAT_CACHE_FORMAT: Format = { what: 'stat cache', maxBytes: MAX_CATALOG_BYTES, hint: 'delete it; the next push reads the files again' };
export const DEPLOYMENT_FORMAT: Format = {
  what: 'deployment record',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'stop the server by hand if it still runs, then delete the record',
};

/** Inode numbers and mtimes as Node reports them (numbers, possibly fractional milliseconds). */
const statNumber = v.pipe(v.number(), v.finite('is not a finite number'), v.minValue(0, 'is negative'));

const installedFileSchema = v.object({ digest, size: byteSize(), mtimeMs: statNumber, ctimeMs: v.optional(statNumber), ino: statNumber });

/** DEST/.aim/state.json. */
export const installStateSchema = v.object({
  version: v.literal(1),
  manifest: v.optional(digest),
  repo: v.optional(text(256)),
  model: v.optional(text(256)),
  tag: v.optional(text(256)),
  files: v.record(v.string(), installedFileSchema),
});

/** The stat cache: one unchecked entry per absolute path; each is checked when looked up (statCacheEntrySchema). */
export const statCacheSchema = v.record(v.string(), v.unknown());

export const statCacheEntrySchema = v.object({
  size: byteSize(),
  mtimeMs: statNumber,
  /** Absent in entries written before ctime was recorded: such an entry never matches. */
  ctimeMs: v.optional(statNumber),
  ino: statNumber,
  chunking: v.string(),
  file: v.object({
    path: v.string(),
    size: byteSize(),
    mode: count(0o7777),
    digest,
    chunks: v.array(v.object({ digest, size: byteSize(1, MAX_CHUNK_BYTES) })),
  }),
  manifest: v.optional(digest),
  removals: v.optional(text()),
});

const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** $AIM_HOME/deployments/<name>.json (serving/engine.ts DeploymentRecord). */
export const deploymentRecordSchema = v.object({
  name: v.pipe(v.string(), v.check((name) => DEPLOYMENT_NAME.test(name) && !name.includes('..'), 'is not a deployment name')),
  engine: v.picklist(['embedded', 'kamiwaza']),
  model: text(),
  modelId: text(),
  quant: text(256),
  modelPath: text(),
  endpoint: v.pipe(text(), v.check((url) => /^https?:\/\/[^\s]+$/.test(url), 'is not an http:// or https:// URL')),
  startedAt: timestamp,
  // Linux allows pids up to 2^22.
  pid: v.optional(v.pipe(count(4_194_304), v.minValue(2, 'is not a process aim could have started'))),
  port: v.optional(v.pipe(count(65_535), v.minValue(1, 'is not a port'))),
  logFile: v.optional(text()),
  kamiwaza: v.optional(v.object({ baseUrl: text(), deploymentId: text(256), modelId: text(256) })),
});

export const JOURNAL_FORMAT: Format = { what: 'pull journal', maxBytes: MAX_SMALL_FILE_BYTES, hint: 'delete it; the pull starts that file again' };

/** DEST/.aim/partial/<digest>.json: how far an interrupted pull of one file got. */
export const journalSchema = v.object({ chunksDone: count(), complete: v.boolean() });
