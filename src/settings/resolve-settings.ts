import { ConfigError } from '../lib/errors.js';
import { SETTING_BLOCKS, SETTINGS, settingDefinition, settingText, type SettingDefinition, type SettingValue } from './settings-table.js';

// Each setting's effective value and where it came from: a flag, else an environment variable, else the `aim:`
// section of the config file, else the default. Every bad value is collected and reported in one ConfigError naming
// the file, variable or flag it came from, so one run shows everything to fix.

export type SettingSource =
  | { kind: 'default' }
  | { kind: 'config'; file: string }
  | { kind: 'env'; variable: string }
  | { kind: 'flag'; flag: string };

export interface EffectiveSetting {
  key: string;
  value: SettingValue;
  /** The value as printed; the default's description when the default is computed at use. */
  text: string;
  source: SettingSource;
  description: string;
}

export interface SettingsInput {
  /** The `aim:` section, flattened to dotted keys (flattenSection), and the file it was read from. */
  config?: { values: Record<string, unknown>; file: string };
  env?: NodeJS.ProcessEnv;
  /** Values given as flags, by setting key; undefined means the flag was not given. */
  flags?: Record<string, unknown>;
}

export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case 'default': return 'default';
    case 'config': return `config ${source.file}`;
    case 'env': return `env ${source.variable}`;
    case 'flag': return `flag ${source.flag}`;
  }
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The `aim:` section as dotted keys; a key aim does not know is a problem (a typo there would silently do nothing). */
export function flattenSection(section: unknown): { values: Record<string, unknown>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  if (section === undefined || section === null) return { values, problems };
  if (!isMapping(section)) return { values, problems: ['aim must be a mapping of settings'] };
  const visit = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, value] of Object.entries(node)) {
      const key = `${prefix}${name}`;
      if (SETTING_BLOCKS.includes(key)) continue;
      if (settingDefinition(key)) values[key] = value;
      else if (isMapping(value) && SETTINGS.some((s) => s.key.startsWith(`${key}.`))) visit(value, `${key}.`);
      else problems.push(`unknown setting aim.${key} (known: ${SETTINGS.map((s) => s.key).join(', ')})`);
    }
  };
  visit(section, '');
  return { values, problems };
}

type Parsed = { value: SettingValue } | { problem: string };

function firstSet(definition: SettingDefinition, input: SettingsInput, problems: string[]): EffectiveSetting | undefined {
  const effective = (parsed: Parsed, source: SettingSource, label: string): EffectiveSetting | undefined => {
    if ('problem' in parsed) {
      problems.push(`${label} ${parsed.problem}`);
      return undefined;
    }
    return { key: definition.key, value: parsed.value, text: definition.describe?.(parsed.value) ?? settingText(parsed.value), source, description: definition.description };
  };
  const flag = input.flags?.[definition.key];
  if (flag !== undefined) return effective(definition.parse(flag), { kind: 'flag', flag: definition.flag }, `${definition.flag} ${String(flag)}:`);
  for (const variable of definition.env) {
    const raw = input.env?.[variable];
    if (raw !== undefined && raw !== '') return effective(definition.parse(raw), { kind: 'env', variable }, `${variable}="${raw}"`);
  }
  const configured = input.config?.values[definition.key];
  if (configured !== undefined && configured !== null) {
    return effective(definition.parse(configured), { kind: 'config', file: input.config!.file }, `${input.config!.file}: aim.${definition.key}`);
  }
  return undefined;
}

/** The effective settings, each with its source; throws one ConfigError naming every bad value. */
export class Settings {
  private constructor(private readonly byKey: Map<string, EffectiveSetting>) {}

  static resolve(input: SettingsInput): Settings {
    const problems: string[] = [];
    const byKey = new Map<string, EffectiveSetting>();
    for (const definition of SETTINGS) {
      const set = firstSet(definition, input, problems);
      byKey.set(definition.key, set ?? {
        key: definition.key, value: definition.default, text: definition.defaultText ?? definition.describe?.(definition.default) ?? settingText(definition.default),
        source: { kind: 'default' }, description: definition.description,
      });
    }
    const settings = new Settings(byKey);
    const [min, avg, max] = ['chunking.min', 'chunking.avg', 'chunking.max'].map((key) => settings.number(key)!);
    if (problems.length === 0 && !(min <= avg && avg <= max)) {
      problems.push(`chunk sizes must rise: chunking.min (${min}) <= chunking.avg (${avg}) <= chunking.max (${max})`);
    }
    if (problems.length > 0) {
      throw new ConfigError(problems.join('; '), { hint: 'fix or unset the values named (`aim config list` shows every setting and its source)' });
    }
    return settings;
  }

  get(key: string): EffectiveSetting {
    const setting = this.byKey.get(key);
    if (!setting) throw new Error(`no setting ${key}`);
    return setting;
  }

  /** A numeric setting, or undefined when its default is computed where it is used. */
  number(key: string): number | undefined {
    const value = this.get(key).value;
    return typeof value === 'number' ? value : undefined;
  }

  text(key: string): string | undefined {
    const value = this.get(key).value;
    return typeof value === 'string' ? value : undefined;
  }

  ports(): { first: number; last: number } {
    const value = this.get('serve.ports').value;
    return typeof value === 'object' ? value : { first: 0, last: 0 };
  }

  list(): EffectiveSetting[] {
    return [...this.byKey.values()];
  }
}

export interface ConfigSettingsSource {
  /** The `aim:` section as read from the file, unchecked. */
  aimSection: unknown;
  /** The config file, or undefined when none was found. */
  file?: string;
  /** A top-level `kamiwaza.url`, written before the `aim:` section existed; `aim.kamiwaza.url` wins over it. */
  legacyKamiwazaUrl?: string;
}

/** The effective settings of a command: its flags, the environment, the config file's `aim:` section, the defaults. */
export function effectiveSettings(config: ConfigSettingsSource, flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const file = config.file ?? 'model_repos.yaml';
  const { values, problems } = flattenSection(config.aimSection);
  if (problems.length > 0) {
    throw new ConfigError(`${file}: ${problems.join('; ')}`, { hint: 'fix the aim: section (`aim config list` names every setting)' });
  }
  if (values['kamiwaza.url'] === undefined && config.legacyKamiwazaUrl !== undefined) values['kamiwaza.url'] = config.legacyKamiwazaUrl;
  return Settings.resolve({ config: { values, file }, env, flags });
}
