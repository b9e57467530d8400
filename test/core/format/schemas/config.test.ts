import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../../src/core/config/config.js';
import { parseConfigData } from '../../../../src/core/format/schemas/config.js';
import { ConfigError } from '../../../../src/lib/errors.js';

const FILE = '/w/team/model_repos.yaml';

/** The ConfigError that parsing `text` as FILE gives; fails the test on anything else, or on no error. */
function refusal(text: string): ConfigError {
  try {
    parseConfigText(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('model_repos.yaml schema', () => {
  it.each([
    ['type', '{type: 5, path: /x}', /repository r: type must be local, s3 or http/],
    ['path (a number)', '{type: local, path: 5}', /repository r: path is missing/],
    ['path (absent)', '{type: s3}', /repository r: path is missing/],
    ['path (s3, a list)', '{type: s3, path: [s3://b]}', /repository r: path is missing/],
    ['region', '{type: s3, path: s3://b/p, region: 5}', /repository r: region must be a name like us-east-1/],
    ['endpoint', '{type: s3, path: s3://b/p, endpoint: {url: x}}', /repository r: endpoint must be an http:\/\/ or https:\/\/ URL/],
    ['profile', '{type: s3, path: s3://b/p, profile: [a]}', /repository r: profile must be a profile name without spaces/],
    ['checksums', '{type: s3, path: s3://b/p, checksums: true}', /repository r: checksums must be when_required or when_supported/],
    ['concurrency', '{type: s3, path: s3://b/p, concurrency: "8"}', /repository r: concurrency must be a whole number from 1 to 256/],
    ['concurrency (fractional)', '{type: s3, path: s3://b/p, concurrency: 1.5}', /repository r: concurrency must be a whole number from 1 to 256$/],
    ['packs', '{type: local, path: /x, packs: 1}', /repository r: packs must be true or false/],
    ['the entry', '[type, local]', /repository r must be a mapping/],
  ])('a wrong %s is a ConfigError naming the file and the setting', (_label, entry, message) => {
    const error = refusal(`repositories:\n  r: ${entry}\n`);
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/README/);
  });

  it.each([
    ['repositories', 'repositories: 5\n', /"repositories" must be a mapping of names/],
    ['models', 'models: [a]\n', /"models" must be a mapping of friendly names/],
    ['kamiwaza', 'kamiwaza: yes\n', /"kamiwaza" must be a mapping whose url/],
    ['kamiwaza.url', 'kamiwaza: {url: ftp://k}\n', /"kamiwaza" must be a mapping whose url/],
    ['the top level', '- a\n- b\n', /the top level must be a mapping/],
  ])('a wrong %s section is a ConfigError naming the file and the section', (_label, text, message) => {
    const error = refusal(text);
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('collects every problem of one entry, one per setting', () => {
    const error = refusal('repositories:\n  r: {type: s3, path: "s3://b/p x", region: a/b, endpoint: "http://k:s@h", profile: "", colour: red}\n');
    expect(error.message).toBe(
      `${FILE}: repository r: unknown setting colour (known: type, path, url, region, endpoint, profile, checksums, concurrency, packs, trust); ` +
        'repository r: path must not hold spaces or control characters; repository r: region must be a name like us-east-1; ' +
        'repository r: endpoint must not hold credentials (they come from the AWS credential chain); ' +
        'repository r: profile must be a profile name without spaces',
    );
  });

  it('keeps repositories named like Object.prototype members, in file order, and empty sections as empty', () => {
    const config = parseConfigData({ repositories: { constructor: { type: 'local', path: '/c' }, prototype: { type: 's3', path: 's3://b' } } }, FILE);
    expect(config.repositories).toEqual([
      { name: 'constructor', type: 'local', path: '/c' },
      { name: 'prototype', type: 's3', path: 's3://b' },
    ]);
    expect(parseConfigData(null, FILE)).toEqual({ repositories: [], models: {} });
    expect(parseConfigData({ repositories: null, models: null, kamiwaza: null }, FILE)).toEqual({ repositories: [], models: {}, kamiwaza: null });
  });

  it('reports a repository name that is not a name alone, whatever its settings', () => {
    const error = refusal('repositories:\n  "../x": {type: ftp}\n');
    expect(error.message).toBe(`${FILE}: invalid repository name "../x"`);
  });

  it('passes a valid file through, settings intact, models raw', () => {
    const config = parseConfigData(
      {
        repositories: { s: { type: 's3', path: 's3://b/p', region: 'eu-west-1', endpoint: 'https://minio:9000', profile: 'lab', checksums: 'when_required', concurrency: 256, packs: false } },
        models: { tiny: 'zeta/tiny:v1', other: { ref: 'a/b', quant: 'Q4_K' } },
        kamiwaza: { url: 'http://k:7777', extra: 1 },
      },
      FILE,
    );
    expect(config.repositories[0]).toEqual({ name: 's', type: 's3', path: 's3://b/p', region: 'eu-west-1', endpoint: 'https://minio:9000', profile: 'lab', checksums: 'when_required', concurrency: 256, packs: false });
    expect(config.models).toEqual({ tiny: 'zeta/tiny:v1', other: { ref: 'a/b', quant: 'Q4_K' } });
    expect(config.kamiwaza).toEqual({ url: 'http://k:7777' });
  });
});
