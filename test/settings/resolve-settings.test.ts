import { describe, expect, it } from 'vitest';
import { effectiveSettings, flattenSection, Settings, type SettingSource } from '../../src/settings/resolve-settings.js';
import { SETTINGS } from '../../src/settings/settings-table.js';
import { configError } from '../helpers/thrown.js';

// Precedence for every setting of the table, in one table: the default alone; the config file; a variable over the
// config; a flag over the variable. Each row gives three distinct values so a layer that is skipped shows.

interface Case {
  key: string;
  /** As written in the aim: section, in a variable, on the command line. */
  config: unknown;
  env: string;
  flag: unknown;
  /** What each parses to. */
  expected: { default: unknown; config: unknown; env: unknown; flag: unknown };
}

const range = (first: number, last = first) => ({ first, last });
const CASES: Case[] = [
  { key: 'transfer.concurrency', config: 4, env: '16', flag: 32, expected: { default: undefined, config: 4, env: 16, flag: 32 } },
  // Sizes in one layer at a time keep min <= avg <= max: each is set between its neighbours' defaults.
  { key: 'chunking.min', config: '64KiB', env: '32768', flag: '96KiB', expected: { default: 131072, config: 65536, env: 32768, flag: 98304 } },
  { key: 'chunking.avg', config: 262144, env: '1MiB', flag: '768KiB', expected: { default: 524288, config: 262144, env: 1048576, flag: 786432 } },
  { key: 'chunking.max', config: '4MiB', env: '8388608', flag: '1MiB', expected: { default: 2097152, config: 4194304, env: 8388608, flag: 1048576 } },
  { key: 'serve.ports', config: '8100-8199', env: '9000', flag: 0, expected: { default: range(0), config: range(8100, 8199), env: range(9000), flag: range(0) } },
  { key: 'serve.host', config: '0.0.0.0', env: '127.0.0.1', flag: '0.0.0.0', expected: { default: '127.0.0.1', config: '0.0.0.0', env: '127.0.0.1', flag: '0.0.0.0' } },
  { key: 'serve.threads', config: 2, env: '3', flag: 4, expected: { default: undefined, config: 2, env: 3, flag: 4 } },
  { key: 'serve.ctx-size', config: 4096, env: '8192', flag: 512, expected: { default: 2048, config: 4096, env: 8192, flag: 512 } },
  { key: 'serve.parallel', config: 2, env: '4', flag: 8, expected: { default: undefined, config: 2, env: 4, flag: 8 } },
  { key: 'serve.gpu', config: 'off', env: 'auto', flag: 'off', expected: { default: 'auto', config: 'off', env: 'auto', flag: 'off' } },
  { key: 'serve.engine', config: 'kamiwaza', env: 'embedded', flag: 'kamiwaza', expected: { default: undefined, config: 'kamiwaza', env: 'embedded', flag: 'kamiwaza' } },
  { key: 'kamiwaza.url', config: 'https://kz.example/api', env: 'http://127.0.0.1:7777', flag: 'https://other.example',
    expected: { default: undefined, config: 'https://kz.example/api', env: 'http://127.0.0.1:7777', flag: 'https://other.example' } },
  { key: 'log.level', config: 'info', env: 'debug', flag: 'trace', expected: { default: 'warn', config: 'info', env: 'debug', flag: 'trace' } },
  { key: 'log.format', config: 'json', env: 'text', flag: 'json', expected: { default: 'text', config: 'json', env: 'text', flag: 'json' } },
];

const FILE = '/team/model_repos.yaml';

/** The aim: section holding `value` at the dotted `key`. */
function section(key: string, value: unknown): Record<string, unknown> {
  return key.split('.').reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

function resolved(item: Case, layers: { config?: boolean; env?: boolean; flag?: boolean }): { value: unknown; source: SettingSource } {
  const definition = SETTINGS.find((s) => s.key === item.key)!;
  const settings = effectiveSettings(
    { aimSection: layers.config ? section(item.key, item.config) : undefined, file: FILE },
    layers.flag ? { [item.key]: item.flag } : {},
    layers.env ? { [definition.env[0]!]: item.env } : {},
  );
  const { value, source } = settings.get(item.key);
  return { value, source };
}

describe('settings precedence: flag > env > config > default', () => {
  it('covers every setting of the table', () => {
    expect(CASES.map((c) => c.key).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
  });

  for (const item of CASES) {
    const definition = SETTINGS.find((s) => s.key === item.key)!;
    it(`${item.key}`, () => {
      expect(resolved(item, {})).toEqual({ value: item.expected.default, source: { kind: 'default' } });
      expect(resolved(item, { config: true })).toEqual({ value: item.expected.config, source: { kind: 'config', file: FILE } });
      expect(resolved(item, { config: true, env: true })).toEqual({ value: item.expected.env, source: { kind: 'env', variable: definition.env[0] } });
      expect(resolved(item, { config: true, env: true, flag: true })).toEqual({ value: item.expected.flag, source: { kind: 'flag', flag: definition.flag } });
    });
  }
});


describe('bad settings', () => {
  it('names every bad value with where it came from, in one error', () => {
    const error = configError(() => effectiveSettings(
      { aimSection: { serve: { 'ctx-size': 'big' } }, file: FILE },
      { 'serve.threads': 0 },
      { AIM_PORTS: '70000', AIM_ENGINE: 'ollama', KAMIWAZA_BASE_URL: 'ftp://x' },
    ));
    expect(error.message).toContain(`${FILE}: aim.serve.ctx-size must be a whole number from 64 to 1048576`);
    expect(error.message).toContain('--threads 0: must be a whole number from 1 to 1024');
    expect(error.message).toContain('AIM_PORTS="70000" must be a port');
    expect(error.message).toContain('AIM_ENGINE="ollama" must be one of embedded, kamiwaza');
    expect(error.message).toContain('KAMIWAZA_BASE_URL="ftp://x" must be an http:// or https:// URL');
  });

  it('refuses an unknown key or a section that is not a mapping, naming the file', () => {
    expect(configError(() => effectiveSettings({ aimSection: { serve: { ctxsize: 1 } }, file: FILE })).message)
      .toMatch(/^\/team\/model_repos\.yaml: unknown setting aim\.serve\.ctxsize \(known: transfer\.concurrency/);
    expect(configError(() => effectiveSettings({ aimSection: ['a'], file: FILE })).message).toBe(`${FILE}: aim must be a mapping of settings`);
    expect(flattenSection(null)).toEqual({ values: {}, problems: [] });
  });

  it('refuses chunk sizes that do not rise, whichever layers set them', () => {
    const error = configError(() => effectiveSettings({ aimSection: { chunking: { min: '1MiB' } }, file: FILE }, {}, { AIM_CHUNK_AVG: '512KiB' }));
    expect(error.message).toContain('chunk sizes must rise');
  });

  it('reads a top-level kamiwaza.url as aim.kamiwaza.url, which wins over it', () => {
    const legacy = effectiveSettings({ aimSection: undefined, file: FILE, legacyKamiwazaUrl: 'https://old.example' }, {}, {});
    expect(legacy.get('kamiwaza.url').value).toBe('https://old.example');
    const both = effectiveSettings({ aimSection: { kamiwaza: { url: 'https://new.example' } }, file: FILE, legacyKamiwazaUrl: 'https://old.example' }, {}, {});
    expect(both.get('kamiwaza.url').value).toBe('https://new.example');
  });

  it('takes KAMIWAZA_BASE_URI and KAMIWAZA_API_URL as Kamiwaza\'s SDK does, BASE_URL first', () => {
    const settings = Settings.resolve({ env: { KAMIWAZA_API_URL: 'https://api.example', KAMIWAZA_BASE_URI: 'https://uri.example' } });
    expect(settings.get('kamiwaza.url')).toMatchObject({ value: 'https://uri.example', source: { kind: 'env', variable: 'KAMIWAZA_BASE_URI' } });
  });
});
