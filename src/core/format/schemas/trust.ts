import * as v from 'valibot';

// A repository's `trust:` section in model_repos.yaml, the user's own policy (never read from the repository):
//
//   trust:
//     require: signed            # refuse versions no trusted key signed (`none`: only show who signed)
//     keys:
//       - {name: alice, path: keys/alice.pub}     # relative to model_repos.yaml
//       - {name: bob, pem: "-----BEGIN PUBLIC KEY-----\n..."}
//
// The keys themselves are checked (P-256 public keys) when a command uses the policy, so a bad key names its entry.

const KEY_NAME = 'a trusted key needs a name of letters, digits, . _ - (at most 64)';
const keyName = v.pipe(v.string(KEY_NAME), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, KEY_NAME));
const PEM = 'pem must be a PEM public key';
const trustedKey = v.union(
  [
    v.strictObject({ name: keyName, path: v.pipe(v.string('path must be a file path'), v.nonEmpty('path must be a file path')) }),
    v.strictObject({ name: keyName, pem: v.pipe(v.string(PEM), v.maxLength(64 * 1024, PEM), v.includes('-----BEGIN PUBLIC KEY-----', PEM)) }),
  ],
  'each trusted key is {name, path} or {name, pem}',
);

export const trustSchema = v.strictObject(
  {
    require: v.optional(v.picklist(['signed', 'none'], 'trust.require must be signed or none'), 'signed'),
    keys: v.optional(v.pipe(v.array(trustedKey, 'trust.keys must be a list'), v.maxLength(256, 'trust.keys holds at most 256 keys')), []),
  },
  'trust must be a mapping with require and keys',
);

export type TrustSection = v.InferOutput<typeof trustSchema>;

// The same policy in the settings (`aim: {trust: ...}` in model_repos.yaml), for every repository, or only for those
// named in `repositories`. Where a repository has its own `trust:` too, both apply: the stricter requirement and
// the keys of both.
const REPO_NAMES = 'trust.repositories must be a list of repository names';
export const settingsTrustSchema = v.strictObject(
  {
    ...trustSchema.entries,
    repositories: v.optional(v.pipe(v.array(v.pipe(v.string(REPO_NAMES), v.nonEmpty(REPO_NAMES)), REPO_NAMES), v.maxLength(1024, REPO_NAMES))),
  },
  'aim.trust must be a mapping with require, keys and repositories',
);

export type SettingsTrustSection = v.InferOutput<typeof settingsTrustSchema>;
