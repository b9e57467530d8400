// The schema of a deployment record ($AIM_HOME/deployments/<name>.json) as it is read back. AIM_HOME is local state
// but still untrusted (a bug of ours, a half-written disk, another user's hand): a pid, a port or a URL read from
// a record steers signals and requests, so each is checked before use. A record that fails is reported by file
// name and skipped; every other deployment keeps working.
import * as v from 'valibot';
import type { DeploymentRecord } from '../../serving/engine.js';
import { IntegrityError } from '../../lib/errors.js';
import { checkDeploymentName } from '../format/names.js';

/** Records are a few hundred bytes; anything near this is not one. */
export const MAX_RECORD_BYTES = 64 * 1024;

const isDeploymentName = (name: string): boolean => {
  try {
    return checkDeploymentName(name) === name;
  } catch {
    return false;
  }
};
const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const path = text(4096);
// Linux's pid_max is at most 2^22.
const pid = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2 ** 22));
const startTime = v.pipe(v.string(), v.regex(/^\d{1,20}$/));
const cmdline = v.pipe(v.array(text(16 * 1024)), v.minLength(1), v.maxLength(256));
const isPlainHttpUrl = (text: string): boolean => {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  return url !== undefined && /^https?:$/.test(url.protocol) && !url.username && !url.password;
};
const httpUrl = v.pipe(text(8192), v.check(isPlainHttpUrl, 'is not an http(s) URL without userinfo'));

const RecordSchema = v.object({
  name: v.pipe(v.string(), v.check(isDeploymentName, 'is not a valid deployment name')),
  // Records written before states existed were written once the deployment was ready.
  state: v.optional(v.picklist(['starting', 'ready']), 'ready'),
  engine: v.picklist(['embedded', 'kamiwaza']),
  model: text(4096),
  modelId: text(4096),
  quant: text(64),
  modelPath: path,
  endpoint: v.union([v.literal(''), httpUrl]),
  startedAt: text(64),
  runner: v.optional(v.object({ pid, startTime, cmdline })),
  pid: v.optional(pid),
  pidStartTime: v.optional(startTime),
  cmdline: v.optional(cmdline),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  logFile: v.optional(path),
  kamiwaza: v.optional(v.object({
    baseUrl: httpUrl,
    // Ids go into request paths on the Kamiwaza server: UUIDs only.
    deploymentId: v.optional(v.pipe(v.string(), v.uuid())),
    modelId: v.optional(v.pipe(v.string(), v.uuid())),
    requestTag: v.optional(v.pipe(v.string(), v.uuid())),
  })),
});

/** Parses a record file's bytes; throws IntegrityError "corrupt deployment record at FILE: why". */
export function parseDeploymentRecord(bytes: Uint8Array, file: string, expectedName: string): DeploymentRecord {
  const corrupt = (why: string) => new IntegrityError(`corrupt deployment record at ${file}: ${why}`, {
    hint: `remove the file if nothing runs under that name (\`aim ps\` lists the others); stop the process yourself if one does`,
  });
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw corrupt('not JSON');
  }
  const result = v.safeParse(RecordSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.');
    throw corrupt(`${where ? `${where}: ` : ''}${issue.message}`.slice(0, 300));
  }
  // `aim stop NAME` removes <NAME>.json: a record naming another deployment would make it stop one thing and
  // forget another.
  if (result.output.name !== expectedName) throw corrupt(`it names "${result.output.name}", not "${expectedName}"`);
  return result.output;
}
