import * as v from 'valibot';
import { ConfigError } from '../../../lib/errors.js';
import { nameProblem } from '../names.js';
import { trustSchema } from './trust.js';

// model_repos.yaml as written on disk, after YAML parsing: the repositories map, the `models:` catalog section and
// the `kamiwaza:` section. Every problem is collected into one ConfigError naming the file, each phrased as the user
// would fix it ("repository r: region must be a name like us-east-1"). Relative local paths are resolved by the
// loader (core/config/config.ts), which knows where the file is.

export const CONFIG_HINT = 'see model_repos.yaml in the aim README for the format';

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** A YAML mapping; a list is not one, though valibot's object schemas would take it. */
const mapping = (message: string) => v.custom<Record<string, unknown>>(isMapping, message);

// Each value below ends up in a URL, a request or a message: a control character or a space there is never meant,
// and URL parsing would silently drop some of them (`new URL` strips tabs and newlines), so a value that looks right
// in the file would not be used as is.
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f-\u009f]/;
const noControlOrSpace = (value: string): boolean => !CONTROL_OR_SPACE.test(value);

const ENDPOINT_NOT_URL = 'endpoint must be an http:// or https:// URL';
const isHttpEndpoint = (endpoint: string): boolean => {
  const url = noControlOrSpace(endpoint) && URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  return url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:');
};
const withoutCredentials = (endpoint: string): boolean => {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  return !url?.username && !url?.password;
};

const PATH_MISSING = 'path is missing';
const path = v.pipe(v.string(PATH_MISSING), v.nonEmpty(PATH_MISSING));
const s3Path = v.pipe(path, v.regex(/^s3:\/\/[^/]+/, 'path must look like s3://bucket/prefix'));
const URL_NOT_HTTP = 'url must be the http:// or https:// URL of the published repository folder';
/** type http: where a static web server publishes the repository folder; read-only. */
const httpUrl = v.pipe(
  v.string(URL_NOT_HTTP),
  v.check(isHttpEndpoint, URL_NOT_HTTP),
  v.check(withoutCredentials, 'url must not hold credentials (aim reads published repositories anonymously)'),
);

/** What an entry needs before anything else about it means something: a known type and a path of that type. */
const repositoryBasics = v.variant(
  'type',
  [v.looseObject({ type: v.literal('local'), path }), v.looseObject({ type: v.literal('s3'), path: s3Path }), v.looseObject({ type: v.literal('http'), url: httpUrl })],
  'type must be local, s3 or http',
);

const CONCURRENCY = 'concurrency must be a whole number from 1 to 256';
const REGION = 'region must be a name like us-east-1';
const PROFILE = 'profile must be a profile name without spaces';
const settingsBefore = {
  checksums: v.optional(v.picklist(['when_required', 'when_supported'], 'checksums must be when_required or when_supported')),
  concurrency: v.optional(v.pipe(v.number(CONCURRENCY), v.integer(CONCURRENCY), v.minValue(1, CONCURRENCY), v.maxValue(256, CONCURRENCY))),
  packs: v.optional(v.boolean('packs must be true or false')),
};
const settingsAfter = {
  region: v.optional(v.pipe(v.string(REGION), v.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, REGION))),
  endpoint: v.optional(
    v.pipe(
      v.string(ENDPOINT_NOT_URL),
      v.check(isHttpEndpoint, ENDPOINT_NOT_URL),
      v.check(withoutCredentials, 'endpoint must not hold credentials (they come from the AWS credential chain)'),
    ),
  ),
  profile: v.optional(v.pipe(v.string(PROFILE), v.nonEmpty(PROFILE), v.check(noControlOrSpace, PROFILE))),
  trust: v.optional(trustSchema),
};
const settings = v.variant('type', [
  v.object({ type: v.literal('local'), ...settingsBefore, path, ...settingsAfter }),
  v.object({ type: v.literal('s3'), ...settingsBefore, path: v.pipe(s3Path, v.check(noControlOrSpace, 'path must not hold spaces or control characters')), ...settingsAfter }),
  // The URL becomes the location's path, so everything that names a repository's place names it the same way.
  v.pipe(
    v.object({ type: v.literal('http'), url: httpUrl, concurrency: settingsBefore.concurrency }),
    v.transform(({ url, ...rest }) => ({ ...rest, path: url, url })),
  ),
]);

const KNOWN_SETTINGS = ['type', 'path', 'url', 'region', 'endpoint', 'profile', 'checksums', 'concurrency', 'packs', 'trust'];
const unknownSettings = (repo: Record<string, unknown>): string[] => Object.keys(repo).filter((key) => !KNOWN_SETTINGS.includes(key));
const onlyKnownSettings = v.pipe(
  mapping('must be a mapping'),
  v.check(
    (repo) => unknownSettings(repo).length === 0,
    (issue) => `unknown setting ${unknownSettings(issue.input as Record<string, unknown>).join(', ')} (known: ${KNOWN_SETTINGS.join(', ')})`,
  ),
);

/** One repository's settings: a misspelt key is refused, not ignored, since it would silently change nothing. */
export const repositorySchema = v.pipe(mapping('must be a mapping'), repositoryBasics, v.intersect([onlyKnownSettings, settings]));

const repositoryName = v.pipe(
  v.string(),
  v.check(
    (name) => nameProblem('repository', name) === undefined,
    (issue) => nameProblem('repository', String(issue.input)) ?? '',
  ),
);

/** [name, settings] as a repository; a bad name is reported alone, since its entry can never be used. */
const repositoryEntry = v.pipe(
  v.strictTuple([repositoryName, v.unknown()]),
  v.strictTuple([v.string(), repositorySchema]),
  v.transform(([name, repo]) => ({ ...repo, name })),
);

/**
 * The file's repositories in file order. Object.entries rather than a record schema: valibot's record skips the
 * keys `constructor` and `prototype`, which are valid repository names, and would silently drop those entries.
 */
const repositoriesSchema = v.pipe(
  v.nullish(mapping('"repositories" must be a mapping of names'), {}),
  v.transform((repos) => Object.entries(repos)),
  v.array(repositoryEntry),
);

const KAMIWAZA = '"kamiwaza" must be a mapping whose url is an http:// or https:// URL';

export const configSchema = v.pipe(
  v.nullish(mapping('the top level must be a mapping'), {}),
  v.object({
    repositories: repositoriesSchema,
    /** Friendly names (`aim run NAME`), kept raw: the catalog interprets them when a command uses one. */
    models: v.nullish(mapping('"models" must be a mapping of friendly names'), {}),
    kamiwaza: v.nullish(
      v.pipe(mapping(KAMIWAZA), v.object({ url: v.optional(v.pipe(v.string(KAMIWAZA), v.regex(/^https?:\/\/[^/\s]+/, KAMIWAZA))) })),
    ),
  }),
);

export type RawConfig = v.InferOutput<typeof configSchema>;

/** An issue as the user reads it; one about a repository's entry names the repository. */
function problemOf(issue: v.BaseIssue<unknown>): string {
  const path = issue.path ?? [];
  // A required setting that is absent is reported by valibot against the mapping that lacks it.
  const missing = issue.kind === 'schema' && issue.type.endsWith('object') && issue.input === undefined && path.length > 0;
  const message = missing ? `${String(path.at(-1)!.key)} is missing` : issue.message;
  const entry = path[0]?.key === 'repositories' && path[2]?.key === 1 ? (path[1]!.value as [string, unknown]) : undefined;
  if (!entry) return message;
  // "repository r must be a mapping", otherwise "repository r: what is wrong with which setting".
  const own = path.length === 3 && issue.kind === 'schema';
  return `repository ${entry[0]}${own ? ' ' : ': '}${message}`;
}

/**
 * `data` (the YAML file as plain data) as a configuration, or one ConfigError naming `where` and every problem,
 * after `earlier` ones found in the YAML itself (keys given twice).
 */
export function parseConfigData(data: unknown, where: string, earlier: readonly string[] = []): RawConfig {
  // One problem per setting: the first rule it breaks.
  const result = v.safeParse(configSchema, data, { abortPipeEarly: true });
  const problems = [...earlier, ...(result.success ? [] : result.issues.map(problemOf))];
  if (!result.success || problems.length > 0) throw new ConfigError(`${where}: ${problems.join('; ')}`, { hint: CONFIG_HINT });
  return result.output;
}
