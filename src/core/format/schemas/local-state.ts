import * as v from 'valibot';
import { MAX_CATALOG_BYTES, MAX_CHUNK_BYTES, MAX_SMALL_FILE_BYTES } from './limits.js';
import { byteSize, count, digest, text, timestamp, type Format } from './parse.js';
import { checkDeploymentName } from '../names.js';

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
  /** Present when the pull took only some files of the version (--include/--exclude/--quant). */
  subset: v.optional(v.object({ include: v.array(text(4096)), exclude: v.array(text(4096)), quant: v.optional(text(64)) })),
});

/** The stat cache: one unchecked entry per absolute path; each is checked when looked up (statCacheEntrySchema). */
export const statCacheSchema = v.record(v.string(), v.unknown());

export const statCacheEntrySchema = v.pipe(
  v.object({
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
  }),
  // A push takes the entry's chunks as the file's: they must rebuild a file of the size the entry was recorded for, or
  // the version committed would cut the file short, or fail every pull.
  v.check(
    ({ size, file }) => file.size === size && file.chunks.reduce((sum, chunk) => sum + chunk.size, 0) === size,
    'its chunks do not add up to the size of the file it was recorded for',
  ),
);

const isDeploymentName = (name: string): boolean => {
  try {
    return checkDeploymentName(name) === name;
  } catch {
    return false;
  }
};
const isPlainHttpUrl = (value: string): boolean => {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  return url !== undefined && /^https?:$/.test(url.protocol) && !url.username && !url.password;
};
const httpUrl = v.pipe(text(8192), v.check(isPlainHttpUrl, 'is not an http:// or https:// URL without userinfo'));
// Linux allows pids up to 2^22; 1 is init, never a server aim started.
const pid = v.pipe(count(4_194_304), v.minValue(2, 'is not a process aim could have started'));
const processStartTime = v.pipe(v.string(), v.regex(/^\d{1,20}$/, 'is not a process start time'));
const cmdline = v.pipe(v.array(text(16 * 1024)), v.minLength(1, 'is empty'), v.maxLength(256, 'has more than 256 arguments'));
// Kamiwaza ids go into request paths on its server: UUIDs only.
const uuid = v.pipe(v.string(), v.uuid('is not a UUID'));

/**
 * $AIM_HOME/deployments/<name>.json (serving/engine.ts DeploymentRecord). A pid, a port or a URL read from a record
 * steers signals and requests, so each is checked before use; the process identity (start time, command line) is
 * what `aim stop` compares before it signals anything.
 */
export const deploymentRecordSchema = v.object({
  name: v.pipe(v.string(), v.check(isDeploymentName, 'is not a deployment name')),
  // Records written before states existed were written once the deployment was ready.
  state: v.optional(v.picklist(['starting', 'ready']), 'ready'),
  engine: v.picklist(['embedded', 'kamiwaza']),
  model: text(),
  modelId: text(),
  quant: text(256),
  modelPath: text(),
  // Empty while starting: the endpoint is known once the engine answers.
  endpoint: v.union([v.literal(''), httpUrl]),
  startedAt: timestamp,
  runner: v.optional(v.object({ pid, startTime: processStartTime, cmdline })),
  pid: v.optional(pid),
  pidStartTime: v.optional(processStartTime),
  cmdline: v.optional(cmdline),
  port: v.optional(v.pipe(count(65_535), v.minValue(1, 'is not a port'))),
  logFile: v.optional(text()),
  gpu: v.optional(v.object({ backend: v.union([v.literal(false), text(32)]), layers: count(100_000) })),
  kamiwaza: v.optional(v.object({ baseUrl: httpUrl, deploymentId: v.optional(uuid), modelId: v.optional(uuid), requestTag: v.optional(uuid) })),
});

export const JOURNAL_FORMAT: Format = { what: 'pull journal', maxBytes: MAX_SMALL_FILE_BYTES, hint: 'delete it; the pull starts that file again' };

/** DEST/.aim/partial/<digest>.json: how far an interrupted pull of one file got. */
export const journalSchema = v.object({ chunksDone: count(), complete: v.boolean() });
