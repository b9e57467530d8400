import { availableParallelism } from 'node:os';
import * as v from 'valibot';
import { UsageError } from '../lib/errors.js';

// Every default a user may want to change, in one table: its key in the `aim:` section of model_repos.yaml, the
// environment variables and the flag that override it, its schema and its default. Precedence is flag > env >
// config > default (resolve-settings.ts). A value is checked by the same schema wherever it comes from, so a config
// file, a variable and a flag are refused with the same words.

const KiB = 1024;
const MiB = 1024 * KiB;

/** What a setting holds once parsed. */
export type SettingValue = number | string | { first: number; last: number } | undefined;

export interface SettingDefinition {
  /** Dotted key inside the `aim:` section (`serve.ctx-size` is `aim: {serve: {ctx-size: ...}}`). */
  key: string;
  /** Environment variables, the first one set wins. */
  env: readonly string[];
  /** The flag that overrides it, on the commands that use it. */
  flag: string;
  /** Turns text (a variable, a flag, `aim config set`) or a YAML value into the setting's value, or says why not. */
  parse: (raw: unknown) => { value: SettingValue } | { problem: string };
  default: SettingValue;
  /** How the default reads when it is computed or absent (`all cores but one`). */
  defaultText?: string;
  /** How a value reads for people, when its plain text is not enough (sizes in bytes). */
  describe?: (value: SettingValue) => string;
  description: string;
}

/** A valibot schema applied to text or a YAML value; the first issue is the problem. */
function parser(schema: v.GenericSchema<unknown, SettingValue>) {
  return (raw: unknown) => {
    const result = v.safeParse(schema, raw, { abortPipeEarly: true });
    return result.success ? { value: result.output } : { problem: result.issues[0].message };
  };
}

/** Digits, from text or a YAML number; `512KiB`/`2MiB` for sizes. */
function wholeNumber(min: number, max: number, units: Record<string, number> = {}) {
  const message = `must be a whole number from ${min} to ${max}${Object.keys(units).length ? ` (or with ${Object.keys(units).join('/')})` : ''}`;
  return parser(v.pipe(
    v.union([v.number(message), v.string(message)], message),
    v.transform((raw) => {
      if (typeof raw === 'number') return raw;
      const match = /^\s*(\d{1,16})\s*([A-Za-z]*)\s*$/.exec(raw);
      const unit = match?.[2] ? units[match[2]] : 1;
      return match && unit !== undefined ? Number(match[1]) * unit : NaN;
    }),
    v.check((n) => Number.isInteger(n) && n >= min && n <= max, message),
  ));
}

function choice(allowed: readonly string[]) {
  const message = `must be one of ${allowed.join(', ')}`;
  return parser(v.pipe(v.string(message), v.transform((s) => s.trim().toLowerCase()), v.picklist(allowed, message)));
}

const URL_MESSAGE = 'must be an http:// or https:// URL';
const httpUrl = parser(v.pipe(
  v.string(URL_MESSAGE),
  v.check((s) => !/[\s\u0000-\u001f\u007f]/.test(s) && URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol), URL_MESSAGE),
));

const PORTS_MESSAGE = 'must be a port (1-65535), a range like 8100-8199, or 0 for any free port';
/** `0` (any free port), `8100`, or `8100-8199`. A port below 1024 is refused when it is bound, if it needs privileges. */
const portRange = parser(v.pipe(
  v.union([v.number(PORTS_MESSAGE), v.string(PORTS_MESSAGE)], PORTS_MESSAGE),
  v.transform((raw) => {
    const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(String(raw));
    return match ? { first: Number(match[1]), last: Number(match[2] ?? match[1]) } : undefined;
  }),
  v.check((r) => r !== undefined && ((r.first === 0 && r.last === 0) || (r.first >= 1 && r.first <= r.last && r.last <= 65535)), PORTS_MESSAGE),
  v.transform((r) => r!),
));

const SIZE_UNITS = { KiB, MiB };
/** `524288 (512 KiB)`: the bytes as written in the file, and what they are. */
const describeBytes = (value: SettingValue): string => {
  const bytes = Number(value);
  const human = bytes % MiB === 0 ? `${bytes / MiB} MiB` : bytes % KiB === 0 ? `${bytes / KiB} KiB` : undefined;
  return human ? `${bytes} (${human})` : String(bytes);
};

export const SETTINGS: readonly SettingDefinition[] = [
  { key: 'transfer.concurrency', env: ['AIM_CONCURRENCY'], flag: '--concurrency', parse: wholeNumber(1, 256), default: undefined,
    defaultText: "the repository's concurrency, else 8 for folders and 24 for S3", description: 'chunks moved at once by push, pull and verify' },
  { key: 'chunking.min', describe: describeBytes, env: ['AIM_CHUNK_MIN'], flag: '--chunk-min', parse: wholeNumber(KiB, 64 * MiB, SIZE_UNITS), default: 128 * KiB,
    description: 'smallest chunk, in bytes, of repositories created from now on' },
  { key: 'chunking.avg', describe: describeBytes, env: ['AIM_CHUNK_AVG'], flag: '--chunk-avg', parse: wholeNumber(4 * KiB, 16 * MiB, SIZE_UNITS), default: 512 * KiB,
    description: 'average chunk, in bytes, of repositories created from now on' },
  { key: 'chunking.max', describe: describeBytes, env: ['AIM_CHUNK_MAX'], flag: '--chunk-max', parse: wholeNumber(KiB, 64 * MiB, SIZE_UNITS), default: 2 * MiB,
    description: 'largest chunk, in bytes, of repositories created from now on' },
  { key: 'serve.ports', env: ['AIM_PORTS'], flag: '--port', parse: portRange, default: { first: 0, last: 0 }, defaultText: '0 (any free port)',
    description: 'port or port range on 127.0.0.1 for the embedded engine' },
  { key: 'serve.host', env: ['AIM_HOST'], flag: '--host', parse: choice(['127.0.0.1', '0.0.0.0']), default: '127.0.0.1',
    description: 'address the embedded engine listens on: this machine only, or every interface (in a container)' },
  { key: 'serve.threads', env: ['AIM_THREADS'], flag: '--threads', parse: wholeNumber(1, 1024), default: undefined,
    defaultText: `all cores but one (${Math.max(1, availableParallelism() - 1)} here)`, description: 'CPU threads for generation' },
  { key: 'serve.ctx-size', env: ['AIM_CTX_SIZE'], flag: '--ctx-size', parse: wholeNumber(64, 1 << 20), default: 2048, description: 'context size in tokens' },
  { key: 'serve.parallel', env: ['AIM_PARALLEL'], flag: '--parallel', parse: wholeNumber(1, 64), default: undefined,
    defaultText: `half the cores, 1 to 4 (${Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)))} here)`,
    description: 'requests the embedded engine answers at once, each with its own context (memory grows with each)' },
  { key: 'serve.gpu', env: ['AIM_GPU'], flag: '--gpu', parse: choice(['auto', 'off']), default: 'auto',
    description: 'embedded engine: auto uses a GPU node-llama-cpp finds (CUDA, Vulkan, Metal), off stays on the CPU' },
  { key: 'serve.engine', env: ['AIM_ENGINE'], flag: '--engine', parse: choice(['embedded', 'kamiwaza']), default: undefined,
    defaultText: 'kamiwaza when a Kamiwaza URL is set, else embedded', description: 'engine that serves `aim run`' },
  { key: 'kamiwaza.url', env: ['KAMIWAZA_BASE_URL', 'KAMIWAZA_BASE_URI', 'KAMIWAZA_API_URL'], flag: '--kamiwaza-url', parse: httpUrl, default: undefined,
    defaultText: 'none', description: 'Kamiwaza server, e.g. https://localhost/api' },
  { key: 'log.level', env: ['AIM_LOG'], flag: '-v/-vv', parse: choice(['error', 'warn', 'info', 'debug', 'trace']), default: 'warn',
    description: 'how much aim logs on stderr' },
  { key: 'log.format', env: ['AIM_LOG_FORMAT'], flag: '--log-format', parse: choice(['text', 'json']), default: 'text', description: 'log lines as text or JSON' },
];

export type SettingKey = (typeof SETTINGS)[number]['key'];

/** Blocks of the `aim:` section that are not single settings, each checked by its own schema where it is used. */
export const SETTING_BLOCKS: readonly string[] = [
  'trust', // the trust policy of every (or named) repositories: core/config/trust-policy.ts
];

export function settingDefinition(key: string): SettingDefinition | undefined {
  return SETTINGS.find((setting) => setting.key === key);
}

/** The setting named by a user (`aim config get KEY`), or a UsageError listing the known ones. */
export function knownSetting(key: string): SettingDefinition {
  const definition = settingDefinition(key);
  if (!definition) throw new UsageError(`unknown setting ${key}`, { hint: `known settings: ${SETTINGS.map((s) => s.key).join(', ')} (\`aim config list\`)` });
  return definition;
}

/** A value as `aim config` and `aim info` print it. */
export function settingText(value: SettingValue): string {
  if (value === undefined) return '';
  if (typeof value === 'object') return value.first === value.last ? String(value.first) : `${value.first}-${value.last}`;
  return String(value);
}
