import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../../src/core/config/config.js';
import { ConfigError } from '../../../../src/lib/errors.js';

const FILE = '/w/team/model_repos.yaml';
const withTrust = (trust: string) => `repositories:\n  r:\n    type: local\n    path: /data\n    trust: ${trust}\n`;

describe("a repository's trust section", () => {
  it('defaults require to signed and keys to none', () => {
    expect(parseConfigText(withTrust('{}'), FILE).repositories[0]!.trust).toEqual({ require: 'signed', keys: [] });
    expect(parseConfigText(withTrust('{require: none, keys: [{name: alice, path: a.pub}]}'), FILE).repositories[0]!.trust).toEqual({ require: 'none', keys: [{ name: 'alice', path: 'a.pub' }] });
  });

  it.each([
    ['{require: maybe}', /trust.require must be signed or none/],
    ['{keys: [{name: alice}]}', /each trusted key is \{name, path\} or \{name, pem\}/],
    ['{keys: [{name: "a b", path: x}]}', /a trusted key needs a name of letters/],
    ['{keys: [{name: alice, pem: hello}]}', /pem must be a PEM public key/],
    ['{requires: signed}', /trust must be a mapping with require and keys/],
  ])('refuses %s', (trust, message) => {
    let error: unknown;
    try {
      parseConfigText(withTrust(trust), FILE);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
