import { describe, expect, it } from 'vitest';
import { aimHome } from '../../src/settings/home.js';
import { kamiwazaEnv, kamiwazaLimits, kamiwazaUrl } from '../../src/settings/kamiwaza.js';
import { aimConfigPath, cdcMode, directIoEnabled, hashBackend, runtimeSwitches } from '../../src/settings/runtime.js';
import { awsProfile, awsRegion, s3Settings } from '../../src/settings/s3.js';
import { configError } from '../helpers/thrown.js';


describe('settings from the environment', () => {
  it('gives the defaults when nothing is set, and treats an empty variable as unset', () => {
    expect(s3Settings({})).toEqual(s3Settings({ AIM_S3_MAX_ATTEMPTS: '', AIM_S3_REQUEST_TIMEOUT_MS: '' }));
    expect(s3Settings({})).toMatchObject({ maxAttempts: 6, requestTimeoutMs: 300_000, listPageSize: 1000 });
    expect(hashBackend({})).toBe('native');
    expect(cdcMode({ AIM_CDC: '' })).toBe('workers');
    expect(directIoEnabled({})).toBe(true);
    expect(aimConfigPath({ AIM_CONFIG: '' })).toBeUndefined();
    expect(kamiwazaEnv({})).toEqual({ url: undefined, apiKey: undefined, verifySsl: true, pollMs: undefined });
    expect(awsRegion({})).toBeUndefined();
    expect(awsProfile({ AWS_PROFILE: '' })).toBeUndefined();
  });

  it('reads good values', () => {
    expect(s3Settings({ AIM_S3_REQUEST_TIMEOUT_MS: '2147483647', AIM_S3_LIST_PAGE_SIZE: '5000' })).toMatchObject({
      requestTimeoutMs: 2 ** 31 - 1,
      listPageSize: 1000,
    });
    expect(hashBackend({ AIM_HASH: 'WASM' })).toBe('wasm');
    expect(cdcMode({ AIM_CDC: 'inline' })).toBe('inline');
    expect(directIoEnabled({ AIM_DIRECT_IO: '0' })).toBe(false);
    expect(directIoEnabled({ AIM_DIRECT_IO: 'on' })).toBe(true);
    expect(aimConfigPath({ AIM_CONFIG: 'team.yaml' })).toBe('team.yaml');
    expect(kamiwazaUrl({ KAMIWAZA_BASE_URI: 'https://b', KAMIWAZA_API_URL: 'https://c' })).toBe('https://b');
    expect(kamiwazaEnv({ KAMIWAZA_API_TOKEN: 't', KAMIWAZA_VERIFY_SSL: 'no', AIM_KAMIWAZA_POLL_MS: '10' })).toMatchObject({
      apiKey: 't',
      verifySsl: false,
      pollMs: 10,
    });
    expect(awsRegion({ AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(aimHome({ AIM_HOME: '/srv/aim' })).toBe('/srv/aim');
  });

  it('puts AIM_HOME under an absolute folder only: a relative XDG_DATA_HOME or an empty HOME is passed over', () => {
    expect(aimHome({ XDG_DATA_HOME: '/data' })).toBe('/data/aim');
    for (const env of [{ XDG_DATA_HOME: 'relative/data' }, { XDG_DATA_HOME: '' }]) {
      expect(aimHome(env)).toMatch(/^\/.*\/\.local\/share\/aim$/);
    }
    const saved = process.env.HOME;
    process.env.HOME = '';
    try {
      expect(aimHome({})).toMatch(/^\/.*\/\.local\/share\/aim$/);
    } finally {
      process.env.HOME = saved;
    }
  });

  it('refuses a timeout a Node timer would fire at once, naming the variable', () => {
    const error = configError(() => s3Settings({ AIM_S3_REQUEST_TIMEOUT_MS: '3000000000' }));
    expect(error.message).toBe('AIM_S3_REQUEST_TIMEOUT_MS="3000000000" must be a whole number from 1 to 2147483647');
    expect(error.hint).toMatch(/docs\/s3\.md/);
  });

  it('bounds the Kamiwaza request deadline and reply cap, naming a bad variable', () => {
    expect(kamiwazaLimits({})).toEqual({ requestTimeoutMs: 60_000, maxReplyBytes: 32 * 1024 * 1024 });
    expect(kamiwazaLimits({ AIM_KAMIWAZA_REQUEST_TIMEOUT_MS: '1500', AIM_KAMIWAZA_MAX_REPLY_BYTES: '4096' })).toEqual({ requestTimeoutMs: 1500, maxReplyBytes: 4096 });
    expect(configError(() => kamiwazaLimits({ AIM_KAMIWAZA_REQUEST_TIMEOUT_MS: String(2 ** 31) })).message).toMatch(/AIM_KAMIWAZA_REQUEST_TIMEOUT_MS/);
    expect(configError(() => kamiwazaLimits({ AIM_KAMIWAZA_MAX_REPLY_BYTES: 'lots' })).message).toMatch(/AIM_KAMIWAZA_MAX_REPLY_BYTES/);
  });

  it('gives a ConfigError naming each bad variable', () => {
    const cases: Array<[string, string, () => unknown]> = [
      ['AIM_S3_MAX_ATTEMPTS', '1.5', () => s3Settings({ AIM_S3_MAX_ATTEMPTS: '1.5' })],
      ['AIM_S3_CONNECT_TIMEOUT_MS', '1e3', () => s3Settings({ AIM_S3_CONNECT_TIMEOUT_MS: '1e3' })],
      ['AIM_S3_RETRY_BASE_MS', '-5', () => s3Settings({ AIM_S3_RETRY_BASE_MS: '-5' })],
      ['AIM_S3_LIST_PAGE_SIZE', '0', () => s3Settings({ AIM_S3_LIST_PAGE_SIZE: '0' })],
      ['AIM_HASH', 'sha256', () => hashBackend({ AIM_HASH: 'sha256' })],
      ['AIM_CDC', 'threads', () => cdcMode({ AIM_CDC: 'threads' })],
      ['AIM_DIRECT_IO', 'maybe', () => directIoEnabled({ AIM_DIRECT_IO: 'maybe' })],
      ['KAMIWAZA_VERIFY_SSL', 'nah', () => kamiwazaEnv({ KAMIWAZA_VERIFY_SSL: 'nah' })],
      ['AIM_KAMIWAZA_POLL_MS', 'fast', () => kamiwazaEnv({ AIM_KAMIWAZA_POLL_MS: 'fast' })],
    ];
    for (const [name, value, read] of cases) {
      const error = configError(read);
      expect(error.message).toContain(`${name}="${value}"`);
      expect(error.message).not.toContain('\n');
      expect(error.hint).toMatch(/^fix or unset it/);
    }
  });

  it('checks the three runtime switches together', () => {
    expect(runtimeSwitches({})).toEqual({ hash: 'native', cdc: 'workers', directIo: true });
    const error = configError(() => runtimeSwitches({ AIM_HASH: 'md5', AIM_CDC: 'inline', AIM_DIRECT_IO: '2' }));
    expect(error.message).toBe('AIM_HASH="md5" must be one of native, wasm; AIM_DIRECT_IO="2" must be 1 or 0 (or true/false, yes/no, on/off)');
  });

  it('names every bad S3 variable in one error', () => {
    const error = configError(() => s3Settings({ AIM_S3_MAX_ATTEMPTS: '101', AIM_S3_IDLE_TIMEOUT_MS: 'soon', AIM_S3_RETRY_MAX_MS: '10' }));
    expect(error.message).toMatch(/^AIM_S3_MAX_ATTEMPTS="101" .*; AIM_S3_IDLE_TIMEOUT_MS="soon" /);
    expect(error.message).not.toContain('AIM_S3_RETRY_MAX_MS');
    expect(error.hint).toMatch(/^fix or unset them/);
  });
});
