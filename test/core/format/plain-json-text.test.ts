// The hand-written checks of manifests and location maps (src/core/format/manifest-plain.ts, location-map-plain.ts)
// are held to their schemas by property tests that build values and write them with JSON.stringify. Some JSON texts
// no such value writes: -0, numbers past 2^53 or in exponent form, a key given twice, `__proto__` as a key of the
// text. Here each of those, written by hand into a manifest and a map as push writes them, must get the schema's
// answer: refused when the schema refuses it, and the schema's own value when it accepts it.
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { isPlainLocationMap } from '../../../src/core/format/location-map-plain.js';
import { MANIFEST_MEDIA_TYPE, manifestSchema, parseManifest } from '../../../src/core/format/manifest.js';
import { locationMapSchema } from '../../../src/core/format/schemas/store.js';

const D = `"blake3:${'ab'.repeat(32)}"`;
const PACK = 'cd'.repeat(16);

/** A manifest's text with one file, whose size, mode, chunk size and extra text are given as raw JSON. */
function manifestText({ size = '5', mode = '420', chunk = '5', file = '', top = '', annotations = '{}' } = {}): string {
  const entry = `{"path":"a","size":${size},"mode":${mode},"digest":${D},"chunks":[{"digest":${D},"size":${chunk}}]${file}}`;
  return `{"schemaVersion":1,"mediaType":"${MANIFEST_MEDIA_TYPE}","files":[${entry}],"annotations":${annotations}${top}}`;
}

const manifestCases: Record<string, string> = {
  'size -0 and chunk -0': manifestText({ size: '-0', chunk: '-0' }),
  'mode -0': manifestText({ mode: '-0' }),
  'size 5.0': manifestText({ size: '5.0', chunk: '5.0' }),
  'size 5e0': manifestText({ size: '5e0', chunk: '5e0' }),
  'size 1e21': manifestText({ size: '1e21', chunk: '1e21' }),
  'size 2^53 + 1': manifestText({ size: '9007199254740993', chunk: '9007199254740993' }),
  'size 2^53 with chunks to match': manifestText({ size: '9007199254740992' }),
  'mode 0o10000': manifestText({ mode: '4096' }),
  'mode 1e400': manifestText({ mode: '1e400' }),
  'a file key given twice': manifestText({ file: ',"size":6' }),
  'a file key given twice, same value': manifestText({ file: ',"size":5' }),
  'a top key given twice': manifestText({ top: ',"files":[]' }),
  '__proto__ in a file': manifestText({ file: ',"__proto__":{"size":5}' }),
  '__proto__ at the top': manifestText({ top: ',"__proto__":{}' }),
  '__proto__ annotation': manifestText({ annotations: '{"__proto__":"x"}' }),
  'constructor annotation': manifestText({ annotations: '{"constructor":"x"}' }),
  'annotation key given twice': manifestText({ annotations: '{"a":"x","a":"y"}' }),
  'annotation with a non-string value': manifestText({ annotations: '{"a":1}' }),
  'annotations as a list': manifestText({ annotations: '[]' }),
};

function mapText(entry: string, extra = ''): string {
  return `{"format":1,"manifest":${D},"packs":{"${PACK}":[${entry}]}${extra}}`;
}

const mapCases: Record<string, string> = {
  'offset -0': mapText(`[${D},-0,5]`),
  'size -0': mapText(`[${D},0,-0]`),
  'offset 1e21': mapText(`[${D},1e21,5]`),
  'offset 2^53 + 1': mapText(`[${D},9007199254740993,5]`),
  'offset past a pack': mapText(`[${D},1073741820,5]`),
  'offset 4.5': mapText(`[${D},4.5,5]`),
  'four items': mapText(`[${D},0,5,1]`),
  'a pack given twice': `{"format":1,"manifest":${D},"packs":{"${PACK}":[[${D},0,5]],"${PACK}":[[${D},7,5]]}}`,
  '__proto__ as a pack': `{"format":1,"manifest":${D},"packs":{"__proto__":[[${D},0,5]]}}`,
  '__proto__ at the top': mapText(`[${D},0,5]`, ',"__proto__":{}'),
};

describe('plain checks on JSON texts no generated value writes', () => {
  for (const [name, text] of Object.entries(manifestCases)) {
    it(`manifest: ${name}`, () => {
      const bySchema = v.safeParse(manifestSchema, JSON.parse(text));
      let parsed: unknown;
      try {
        parsed = parseManifest(Buffer.from(text), 'x');
      } catch {
        expect(bySchema.success).toBe(false);
        return;
      }
      expect(bySchema.success).toBe(true);
      expect(parsed).toStrictEqual(bySchema.output);
      expect(JSON.stringify(parsed)).toBe(JSON.stringify(bySchema.output));
    });
  }

  for (const [name, text] of Object.entries(mapCases)) {
    it(`location map: ${name}`, () => {
      const value = JSON.parse(text);
      const bySchema = v.safeParse(locationMapSchema, JSON.parse(text));
      if (!isPlainLocationMap(value)) return;
      expect(bySchema.success).toBe(true);
      expect(value).toStrictEqual(bySchema.output);
    });
  }

  it('recognises the plain texts these cases are made from', () => {
    expect(() => parseManifest(Buffer.from(manifestText()), 'x')).not.toThrow();
    expect(isPlainLocationMap(JSON.parse(mapText(`[${D},0,5]`)))).toBe(true);
  });
});
