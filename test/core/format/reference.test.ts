import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.js';
import { formatReference, parseModelSelector, parseReference } from '../../../src/core/format/reference.js';

const HEX = 'ab'.repeat(32);

describe('parseReference', () => {
  it('reads repo/model, repo/model:tag and repo/model@digest', () => {
    expect(parseReference('vision/resnet50')).toEqual({ repo: 'vision', model: 'resnet50', tag: 'latest' });
    expect(parseReference('vision/resnet50:v1.0')).toEqual({ repo: 'vision', model: 'resnet50', tag: 'v1.0' });
    expect(parseReference(`vision/resnet50@blake3:${HEX}`)).toEqual({ repo: 'vision', model: 'resnet50', digest: `blake3:${HEX}` });
    expect(parseReference('team-vision/Qwen2.5-7B_instruct:q6_k-2')).toEqual({ repo: 'team-vision', model: 'Qwen2.5-7B_instruct', tag: 'q6_k-2' });
  });

  it('reads a short digest (7 to 63 hex, with or without blake3:) as a prefix, and 64 hex as the digest', () => {
    expect(parseReference('vision/resnet50@3f2a9c1b7d4e')).toEqual({ repo: 'vision', model: 'resnet50', digestPrefix: '3f2a9c1b7d4e' });
    expect(parseReference('vision/resnet50@blake3:3f2a9c1')).toEqual({ repo: 'vision', model: 'resnet50', digestPrefix: '3f2a9c1' });
    expect(parseReference(`vision/resnet50@${HEX}`)).toEqual({ repo: 'vision', model: 'resnet50', digest: `blake3:${HEX}` });
    expect(formatReference(parseReference('vision/resnet50@3f2a9c1b7d4e'))).toBe('vision/resnet50@3f2a9c1b7d4e');
    expect(() => parseReference('vision/resnet50@3f2a9c')).toThrow(/digest prefix "3f2a9c" is too short/);
  });

  it('round-trips through formatReference', () => {
    for (const text of ['vision/resnet50:latest', 'vision/resnet50:v1.0', `vision/resnet50@blake3:${HEX}`]) {
      expect(formatReference(parseReference(text))).toBe(text);
    }
    expect(formatReference(parseReference('vision/resnet50'))).toBe('vision/resnet50:latest');
    expect(formatReference({ repo: 'r', model: 'm' })).toBe('r/m:latest');
  });

  it.each([
    ['resnet50', /is not a model reference/],
    ['/resnet50', /is not a model reference/],
    ['', /is not a model reference/],
    ['vision/', /invalid model name ""/],
    ['vision/a/b', /invalid model name "a\/b"/],
    ['vision/resnet:', /invalid tag name ""/],
    ['vision/resnet:v1:v2', /invalid tag name "v1:v2"/],
    ['vision/resnet:../x', /invalid tag name/],
    ['vision/..', /invalid model name/],
    ['vis ion/resnet', /invalid repository name/],
    ['-x/resnet', /invalid repository name/],
    ['vision/resnet@sha256:abc', /is not a digest/],
    [`vision/resnet@blake3:${HEX.toUpperCase()}`, /is not a digest/],
    [`vision/resnet@blake3:${HEX}0`, /is not a digest/],
    [`vision/resnet:v1@blake3:${HEX}`, /names both a tag \(v1\) and a digest/],
    ['vision/resnet:v1@3f2a9c1b7d4e', /names both a tag \(v1\) and a digest/],
    [`vision/${'m'.repeat(129)}`, /invalid model name/],
  ])('rejects %j with a UsageError and a hint', (text, message) => {
    let error: unknown;
    try {
      parseReference(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(message);
    expect((error as UsageError).hint).toBeTruthy();
  });
});

describe('parseModelSelector (verify\'s MODEL[:TAG])', () => {
  it('reads a model, or a model and a tag', () => {
    expect(parseModelSelector('resnet')).toEqual({ model: 'resnet' });
    expect(parseModelSelector('resnet:v1.0')).toEqual({ model: 'resnet', tag: 'v1.0' });
  });

  it.each([
    ['resnet:v1:v2', /invalid tag name "v1:v2"/],
    ['resnet:', /invalid tag name ""/],
    [':v1', /invalid model name ""/],
    ['res\x1b[2Jnet', /invalid model name/],
    ['../x:v1', /invalid model name/],
  ])('refuses %j instead of dropping what follows', (text, message) => {
    expect(() => parseModelSelector(text)).toThrow(UsageError);
    expect(() => parseModelSelector(text)).toThrow(message);
  });
});
