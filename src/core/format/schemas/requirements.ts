import * as v from 'valibot';
import { byteSizeOf } from '../byte-size.js';
import { byteSize, text } from './parse.js';

/** A size in aim-repo.json: bytes, or text such as "20GiB". */
const sizeSetting = v.union([byteSize(), v.pipe(text(32), v.check((value) => byteSizeOf(value) !== undefined, 'is not a size such as 20GiB'))]);

/**
 * aim-repo.json's `requires`: what a push must bring before anything is uploaded (a repository's contribution
 * rules). Annotations are named by key; description, license and source are the annotations of those names.
 */
export const requirementsSchema = v.object({
  description: v.optional(v.boolean()),
  license: v.optional(v.boolean()),
  source: v.optional(v.boolean()),
  ggufValid: v.optional(v.boolean()),
  maxSize: v.optional(sizeSetting),
  annotations: v.optional(v.pipe(v.array(text(256)), v.maxLength(100, 'names more than 100 annotations'))),
});

export type Requirements = v.InferOutput<typeof requirementsSchema>;
