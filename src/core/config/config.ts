import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { RepoLocation } from '../../backends/backend.js';
import { ConfigError, NotFoundError } from '../../lib/errors.js';
import { checkRepoName } from '../format/names.js';
import { locationProblems } from './repo-location.js';
import { MAX_CONFIG_ALIASES, MAX_CONFIG_BYTES } from '../format/schemas/limits.js';
import { describeValue } from '../format/schemas/parse.js';
import { aimConfigPath } from '../../settings/runtime.js';

// model_repos.yaml in two steps: what is written on disk (RawConfig, kept as a YAML Document so edits keep
// comments and order), then the normalised form with defaults resolved in one place (AimConfig).

export const CONFIG_FILE_NAME = 'model_repos.yaml';

export interface RepoConfig extends RepoLocation {
  name: string;
}

export interface AimConfig {
  /** The file in use, or undefined when none was found (an empty configuration). */
  filepath?: string;
  repositories: RepoConfig[];
  /** Friendly names (`aim run NAME`), raw; the catalog interprets them. */
  models: Record<string, unknown>;
  kamiwaza?: { url?: string };
  document: Document;
}

export interface ConfigSource {
  /** --config, else AIM_CONFIG, else a search from `cwd` upward. */
  explicitPath?: string;
  cwd?: string;
}

interface Loaded {
  text: string;
}

// cosmiconfig loads only for a search: with --config or AIM_CONFIG a command does not parse it and its YAML and
// JSON parsers (about a fifth of the code a command loads).
async function explorer() {
  // A CommonJS package: what the bundle's dynamic import gives is its module.exports as `default`.
  const loaded = (await import('cosmiconfig')) as typeof import('cosmiconfig') & { default?: typeof import('cosmiconfig') };
  const { cosmiconfig } = loaded.default ?? loaded;
  return cosmiconfig('aim', {
    searchPlaces: [CONFIG_FILE_NAME, 'model_repos.yml'],
    searchStrategy: 'global',
    // No cache: one search per command anyway, and a long-lived caller (tests, a future MCP server) must see edits.
    cache: false,
    loaders: { '.yaml': (_path: string, text: string): Loaded => ({ text }), '.yml': (_path: string, text: string): Loaded => ({ text }) },
  });
}

export async function findConfigFile(source: ConfigSource = {}): Promise<string | undefined> {
  const explicit = source.explicitPath ?? aimConfigPath();
  if (explicit) return resolve(source.cwd ?? process.cwd(), explicit);
  const found = await (await explorer()).search(source.cwd ?? process.cwd());
  return found?.filepath;
}

export async function loadConfig(source: ConfigSource = {}): Promise<AimConfig> {
  const filepath = await findConfigFile(source);
  if (!filepath) return normalise(parseDocument(''), undefined);
  return parseConfigText(await readConfigText(filepath), filepath);
}

/** model_repos.yaml's text as a configuration, or one ConfigError naming `filepath` and every problem. */
export function parseConfigText(text: string, filepath: string): AimConfig {
  return normalise(parseYaml(text, filepath), filepath);
}

/** The file's text, refusing what cannot be a configuration (a device, a FIFO, a file of gigabytes) before reading it. */
async function readConfigText(filepath: string): Promise<string> {
  const unreadable = (error: NodeJS.ErrnoException): never => {
    throw new NotFoundError(`config file ${filepath} cannot be read (${error.code})`, {
      hint: 'check --config / AIM_CONFIG, or run `aim repo create` to write a new model_repos.yaml',
    });
  };
  const info = await stat(filepath).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : unreadable(error)));
  // A named file that does not exist yet is an empty configuration: `aim repo create` will write it there.
  if (!info) return '';
  if (info.isDirectory()) unreadable(Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  if (!info.isFile()) throw new ConfigError(`config file ${filepath} is not a regular file`, { hint: 'point --config / AIM_CONFIG at a YAML file' });
  if (info.size > MAX_CONFIG_BYTES) {
    throw new ConfigError(`config file ${filepath} is ${info.size} bytes, more than the ${MAX_CONFIG_BYTES} a configuration may hold`, {
      hint: 'point --config / AIM_CONFIG at the right file',
    });
  }
  return readFile(filepath, 'utf8').catch(unreadable);
}

/**
 * The YAML document, or one ConfigError naming the file. Duplicate keys are found by duplicateKeyProblems, not by
 * the parser: its own check compares each key with every key before it, which took 20 s for 40,000 repositories.
 */
export function parseYaml(text: string, filepath: string): Document {
  // Without prettyErrors the parser leaves linePos unset, so the position comes from a LineCounter.
  const lineCounter = new LineCounter();
  let document: Document;
  try {
    document = parseDocument(text, { prettyErrors: false, lineCounter, uniqueKeys: false });
  } catch (error) {
    // A nesting deep enough to exhaust the parser's stack, say.
    throw new ConfigError(`${filepath}: cannot be read as YAML (${describeValue(String((error as Error)?.message))})`, { hint: YAML_HINT });
  }
  const error = document.errors[0];
  if (error) {
    const { line, col: column } = lineCounter.linePos(error.pos[0]);
    throw new ConfigError(`${filepath}:${line}:${column}: malformed YAML: ${error.message.split('\n')[0]}`, { hint: YAML_HINT });
  }
  return document;
}

const YAML_HINT = 'fix the file (a YAML linter helps), or point --config at another one';

/** The file as plain data, with aliases bounded: a few lines of nested aliases otherwise expand to gigabytes. */
function toPlainData(document: Document, where: string): unknown {
  try {
    return document.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (error) {
    throw new ConfigError(`${where}: cannot be read: ${describeValue(String((error as Error)?.message))}`, {
      hint: `YAML aliases may expand to at most ${MAX_CONFIG_ALIASES} nodes; write the entries out`,
    });
  }
}

/** Keys given twice in one mapping: the YAML spec forbids them, and a repeated repository name hides the first. */
function duplicateKeyProblems(document: Document): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, path: string): void => {
    if (!isMap(node)) return;
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (seen.has(key)) problems.push(`${path}${String(key)} is given twice`);
      seen.add(key);
      if (path === '') visit(pair.value, `${String(key)}.`);
    }
  };
  visit(document.contents, '');
  return problems;
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function normalise(document: Document, filepath: string | undefined): AimConfig {
  const where = filepath ?? CONFIG_FILE_NAME;
  const data = toPlainData(document, where) ?? {};
  const problems = duplicateKeyProblems(document);
  if (!isMapping(data)) problems.push('the top level must be a mapping');
  const raw = isMapping(data) ? data : {};
  const repos = raw.repositories ?? {};
  if (!isMapping(repos)) problems.push('"repositories" must be a mapping of names');
  const repositories: RepoConfig[] = [];
  for (const [name, value] of Object.entries(isMapping(repos) ? repos : {})) {
    const repo = normaliseRepo(name, value, filepath, problems);
    if (repo) repositories.push(repo);
  }
  const models = raw.models ?? {};
  if (!isMapping(models)) problems.push('"models" must be a mapping of friendly names');
  const kamiwaza = raw.kamiwaza;
  if (kamiwaza !== undefined && kamiwaza !== null && !(isMapping(kamiwaza) && (kamiwaza.url === undefined || isHttpUrl(kamiwaza.url)))) {
    problems.push('"kamiwaza" must be a mapping whose url is an http:// or https:// URL');
  }
  if (problems.length > 0) {
    throw new ConfigError(`${where}: ${problems.join('; ')}`, { hint: 'see model_repos.yaml in the aim README for the format' });
  }
  return { filepath, repositories, models: models as Record<string, unknown>, kamiwaza: (kamiwaza ?? undefined) as AimConfig['kamiwaza'], document };
}

function isHttpUrl(value: unknown): boolean {
  return typeof value === 'string' && /^https?:\/\/[^/\s]+/.test(value);
}

function normaliseRepo(name: string, value: unknown, filepath: string | undefined, problems: string[]): RepoConfig | undefined {
  try {
    checkRepoName(name);
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
  const repo = value as Partial<RepoLocation> | null;
  if (typeof repo !== 'object' || repo === null) return void problems.push(`repository ${name} must be a mapping`);
  if (repo.type !== 'local' && repo.type !== 's3') return void problems.push(`repository ${name}: type must be local or s3`);
  if (typeof repo.path !== 'string' || repo.path === '') return void problems.push(`repository ${name}: path is missing`);
  if (repo.type === 's3' && !/^s3:\/\/[^/]+/.test(repo.path)) {
    return void problems.push(`repository ${name}: path must look like s3://bucket/prefix`);
  }
  const known = new Set(['type', 'path', 'region', 'endpoint', 'profile', 'checksums', 'concurrency', 'packs']);
  const unknown = Object.keys(repo).filter((key) => !known.has(key));
  if (unknown.length > 0) problems.push(`repository ${name}: unknown setting ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  if (repo.checksums !== undefined && repo.checksums !== 'when_required' && repo.checksums !== 'when_supported') {
    problems.push(`repository ${name}: checksums must be when_required or when_supported`);
  }
  if (repo.concurrency !== undefined && !(Number.isInteger(repo.concurrency) && repo.concurrency >= 1 && repo.concurrency <= 256)) {
    problems.push(`repository ${name}: concurrency must be a whole number from 1 to 256`);
  }
  if (repo.packs !== undefined && typeof repo.packs !== 'boolean') problems.push(`repository ${name}: packs must be true or false`);
  problems.push(...locationProblems(name, repo));
  const path = repo.type === 'local' && !isAbsolute(repo.path) ? resolve(filepath ? dirname(filepath) : process.cwd(), repo.path) : repo.path;
  return { ...repo, name, type: repo.type, path } as RepoConfig;
}

/** The loader's check of a whole configuration document, for edits: what commands would load, or its ConfigError. */
export function configFromDocument(document: Document, filepath: string | undefined): AimConfig {
  return normalise(document, filepath);
}

export function findRepo(config: AimConfig, name: string): RepoConfig {
  const repo = config.repositories.find((candidate) => candidate.name === name);
  if (!repo) {
    const known = config.repositories.map((r) => r.name).join(', ') || 'none';
    throw new NotFoundError(`repository "${name}" is not in ${config.filepath ?? 'any model_repos.yaml'} (known: ${known})`, {
      hint: `create it with \`aim repo create ${name} --type local --path PATH\`, or pass --config`,
    });
  }
  return repo;
}
