import * as v from 'valibot';
import { isSafeName } from '../names.js';
import { MAX_SMALL_FILE_BYTES } from './limits.js';
import { digest, text, timestamp, type Format } from './parse.js';

// $AIM_HOME/installed/<repo>/<model>/<tag>.json (or @<hex>.json for a version installed by digest): what
// `aim install` installed, which tag it follows, and the subset it took. AIM_HOME is local state anyone with the
// user's rights can edit, so a record is read like anything else aim reads back: bounded, regular file, schema.

export const INSTALL_RECORD_FORMAT: Format = {
  what: 'install record',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'delete the file and install the model again (`aim install REPO/MODEL:TAG`)',
};

const pattern = v.pipe(text(4096));
/** A repository, model or tag name: it becomes a path segment under AIM_HOME and a key in the repository. */
const name = v.pipe(text(128), v.check(isSafeName, 'is not a name aim accepts'));

export const installRecordSchema = v.object({
  version: v.literal(1),
  repo: name,
  model: name,
  /** The tag followed by `aim update`; absent for a version installed by digest. */
  tag: v.optional(name),
  digest,
  installedAt: timestamp,
  updatedAt: v.optional(timestamp),
  subset: v.optional(v.object({ include: v.pipe(v.array(pattern), v.maxLength(256)), exclude: v.pipe(v.array(pattern), v.maxLength(256)), quant: v.optional(text(64)) })),
});

export type InstallRecord = v.InferOutput<typeof installRecordSchema>;
