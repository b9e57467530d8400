import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { RepoLocation } from '../../backends/backend.js';
import { closest } from '../../lib/closest.js';
import { ConfigError, NotFoundError } from '../../lib/errors.js';
import { parseConfigData } from '../format/schemas/config.js';
import { MAX_CONFIG_ALIASES, MAX_CONFIG_BYTES } from '../format/schemas/limits.js';
import { describeValue } from '../format/schemas/parse.js';
import type { TrustSection } from '../format/schemas/trust.js';
import { userHome } from '../../settings/home.js';
import { aimConfigPath } from '../../settings/runtime.js';

// model_repos.yaml in two steps: what is written on disk (a YAML Document, so edits keep comments and order, whose
// data core/format/schemas/config.ts checks as RawConfig), then the normalised form with defaults resolved in one
// place (AimConfig).

export const CONFIG_FILE_NAME = 'model_repos.yaml';

export interface RepoConfig extends RepoLocation {
  name: string;
  /** The user's trust policy for this repository (core/config/trust-policy.ts reads it). */
  trust?: TrustSection;
}

export interface AimConfig {
  /** The file in use, or undefined when none was found (an empty configuration). */
  filepath?: string;
  repositories: RepoConfig[];
  /** Friendly names (`aim run NAME`), raw; the catalog interprets them. */
  models: Record<string, unknown>;
  kamiwaza?: { url?: string };
  /**
   * The `aim:` section (settings-table.ts names its keys), raw: it is checked when a command asks for its settings,
   * so `aim config set` and `unset` still work on a file whose section holds a bad value. A top-level `kamiwaza.url`
   * is read as `aim.kamiwaza.url` when that is not set, as it was written before the section existed.
   */
  aimSection: unknown;
  document: Document;
}

export interface ConfigSource {
  /** --config, else AIM_CONFIG, else a search from `cwd` upward. */
  explicitPath?: string;
  cwd?: string;
  /** Settings given as flags, by setting key (settings-table.ts); undefined values were not given. */
  flags?: Record<string, unknown>;
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

/** The sections a configuration holds; `aim:` is the settings' (settings/ reads it). */
const TOP_LEVEL_KEYS = ['repositories', 'models', 'kamiwaza', 'aim'];

/**
 * Top-level keys that look like a misspelt section. `repositores:` would otherwise be ignored and every repository
 * in it reported as not configured. Other keys are left alone: hand-written files keep YAML anchors under keys of
 * their own (`shared: &s {...}`).
 */
function misspeltSectionProblems(data: unknown): string[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return [];
  return Object.keys(data).flatMap((key) => {
    const near = key.length >= 3 && !TOP_LEVEL_KEYS.includes(key) ? closest(key, TOP_LEVEL_KEYS) : undefined;
    return near ? [`unknown section ${describeValue(key)} (did you mean ${near}?)`] : [];
  });
}

/**
 * A local repository's folder: `~/models` is under the user's home, as a shell would have it (`--path=~/models` and a
 * hand-written `path: ~/models` reach aim unexpanded, and made a folder named "~" beside the file); any other
 * relative path is relative to the file.
 */
function localPath(path: string, base: string): string {
  if (path === '~' || path.startsWith('~/')) return join(userHome(), path.slice(1));
  return isAbsolute(path) ? path : resolve(base, path);
}

function normalise(document: Document, filepath: string | undefined): AimConfig {
  const where = filepath ?? CONFIG_FILE_NAME;
  const data = toPlainData(document, where);
  const raw = parseConfigData(data, where, [...duplicateKeyProblems(document), ...misspeltSectionProblems(data)]);
  const aimSection = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).aim : undefined;
  // A relative local path is relative to the file that names it, so a shared config works from any folder.
  const base = filepath ? dirname(filepath) : process.cwd();
  const repositories = raw.repositories.map((repo): RepoConfig => (repo.type === 'local' ? { ...repo, path: localPath(repo.path, base) } : repo));
  return { filepath, repositories, models: raw.models, kamiwaza: raw.kamiwaza ?? undefined, aimSection, document };
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
