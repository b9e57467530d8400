import { parseReference, type Reference } from '../core/format/reference.js';
import { UsageError } from '../lib/errors.js';

/**
 * REPO/MODEL[:TAG] for a command that writes or removes a tag (push, import, untag): a digest, whole or short, names
 * no tag to write, and is refused as such rather than reaching core with no tag at all.
 */
export function parseTaggedReference(text: string, command: string, example: string): Reference & { tag: string } {
  const ref = parseReference(text);
  if (ref.digest || ref.digestPrefix || ref.tag === undefined) {
    throw new UsageError(`${command} takes a tag, not a digest: ${text}`, { hint: `write REPO/MODEL:TAG, e.g. ${example}` });
  }
  return { ...ref, tag: ref.tag };
}
