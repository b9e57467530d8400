import * as v from 'valibot';
import { isSafeName } from '../names.js';
import { MAX_ANNOTATIONS, MAX_SMALL_FILE_BYTES } from './limits.js';
import { byteSize, count, describeValue, digest, parseJson, text, type Format } from './parse.js';

// A bundle names several model versions of one repository by digest, like an OCI image index: immutable, stored by
// the BLAKE3 of its bytes, tagged like a version. Members are model versions only, never bundles, so reading one
// never recurses; each member's name becomes a folder under a pull's DEST, hence the same name rule as a model.

export const BUNDLE_MEDIA_TYPE = 'application/vnd.aim.bundle.v1+json';

/** Members of one bundle: a bundle is what a person picks together, never thousands. */
export const MAX_BUNDLE_MEMBERS = 64;

export const BUNDLE_FORMAT: Format = {
  what: 'bundle manifest',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'the repository holds a damaged or hostile bundle; write it again with `aim bundle REPO/NAME:TAG MODEL...`',
};

const safeName = v.pipe(text(128), v.check((value) => isSafeName(value), 'is not a valid name'));

export const bundleMemberSchema = v.object({
  model: safeName,
  /** The tag the member was named by when the bundle was made: for display; the digest is what counts. */
  tag: v.optional(safeName),
  digest,
  size: byteSize(),
  files: count(),
});

// Keys in the order encodeBundle writes them, so a parsed bundle encodes to the same bytes.
const bundleSchema = v.pipe(
  v.object({
    schemaVersion: v.literal(1),
    mediaType: v.literal(BUNDLE_MEDIA_TYPE),
    members: v.pipe(
      v.array(bundleMemberSchema),
      v.minLength(1, 'names no member'),
      v.maxLength(MAX_BUNDLE_MEMBERS, `names more than ${MAX_BUNDLE_MEMBERS} members`),
    ),
    annotations: v.pipe(v.record(text(256), text()), v.maxEntries(MAX_ANNOTATIONS, `has more than ${MAX_ANNOTATIONS} annotations`)),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const seen = new Set<string>();
    for (const { model } of dataset.value.members) {
      // Each member is pulled into DEST/<model>: two of one model would write one folder twice.
      if (seen.has(model)) addIssue({ message: `names model ${describeValue(model)} twice` });
      seen.add(model);
    }
  }),
);

export type BundleMember = v.InferOutput<typeof bundleMemberSchema>;
export type Bundle = v.InferOutput<typeof bundleSchema>;

/** Compact JSON with a final newline: the digest is of these exact bytes. */
export function encodeBundle(bundle: Bundle): Buffer {
  return Buffer.from(`${JSON.stringify(bundle)}\n`);
}

export function parseBundle(bytes: Uint8Array, where: string): Bundle {
  return parseJson(bundleSchema, bytes, BUNDLE_FORMAT, where);
}

export const BUNDLE_INSTALL_FORMAT: Format = {
  what: 'bundle install record',
  maxBytes: MAX_SMALL_FILE_BYTES,
  hint: 'delete the file and install the bundle again (`aim install REPO/NAME:TAG`)',
};

/** $AIM_HOME/installed-bundles/<repo>/<bundle>/<tag>.json: an installed bundle, the tag it follows, its members. */
export const bundleInstallSchema = v.object({
  version: v.literal(1),
  repo: safeName,
  bundle: safeName,
  tag: safeName,
  digest,
  members: v.pipe(v.array(v.object({ model: safeName, digest })), v.maxLength(MAX_BUNDLE_MEMBERS, `names more than ${MAX_BUNDLE_MEMBERS} members`)),
  installedAt: text(64),
  updatedAt: v.optional(text(64)),
});

export type BundleInstall = v.InferOutput<typeof bundleInstallSchema>;
