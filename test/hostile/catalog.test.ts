// The catalog (index.json and catalog/<model>.json) damaged or written by an attacker, read by `aim list` and
// `aim search` under the harness's time and memory bound: the command succeeds, names the file it stepped over in
// one warning line, still lists both models (the damaged one rebuilt from its tags), prints nothing from outside
// the repository, and writes nothing anywhere (readers never repair: `aim repo reindex` does).
import { rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUnchanged, runBounded, snapshot } from './harness.js';
import { buildPristine, damagedWorkspace, dropPristine, SECRET, type Damaged } from './repository-fixture.js';

interface Case {
  name: string;
  damage(ctx: Damaged): Promise<void>;
  /** The key the warning names. */
  key: RegExp;
}

const GiB = 1024 ** 3;
const entryOf = (ctx: Damaged) => ctx.path('catalog', 'victim.json');
const growTo = (path: (ctx: Damaged) => string, size: number) => async (ctx: Damaged) => truncate(path(ctx), size);
const indexFile = (ctx: Damaged) => ctx.path('index.json');
/** index.json rewritten without the victim's roll-up: readers must find it through its entry. */
const withoutRollUp = async (ctx: Damaged) => {
  const index = await ctx.readJson(indexFile(ctx));
  delete index.models.victim;
  await ctx.writeJson(indexFile(ctx), index);
};

const cases: Case[] = [
  { name: 'garbage index.json', damage: async (ctx) => writeFile(indexFile(ctx), '\u0000\u001b[2J garbage'), key: /skipped index\.json: corrupt catalog index\.json .*not valid JSON/ },
  { name: 'index.json nested 100,000 deep', damage: async (ctx) => writeFile(indexFile(ctx), '['.repeat(100_000)), key: /skipped index\.json: corrupt catalog index\.json/ },
  { name: 'index.json of 1.5 GiB (sparse)', damage: growTo(indexFile, 1.5 * GiB), key: /skipped index\.json: .*more than the \d+ such a file can hold/ },
  { name: 'index.json of the wrong types', damage: async (ctx) => ctx.writeJson(indexFile(ctx), { format: 2, updatedAt: 'now', models: { victim: { tags: 'all' } } }), key: /skipped index\.json: corrupt catalog index\.json/ },
  { name: "one model's part of index.json of the wrong types", damage: async (ctx) => { const index = await ctx.readJson(indexFile(ctx)); index.models.victim.latest = { digest: '\u001b[2J' }; await ctx.writeJson(indexFile(ctx), index); }, key: /skipped index\.json: corrupt catalog index\.json at index\.json in .*: models\.victim: latest\.tag: is missing; latest\.digest: .* is not a digest/ },
  { name: 'index.json as a symlink to a secret', damage: async (ctx) => { await rm(indexFile(ctx)); await symlink(ctx.ws.path('secret', 'passwd'), indexFile(ctx)); }, key: /skipped index\.json: / },
  { name: 'an entry of the wrong types', damage: async (ctx) => { await withoutRollUp(ctx); await ctx.writeJson(entryOf(ctx), { format: 1, model: 'victim', latest: { digest: '../../x' } }); }, key: /skipped catalog\/victim\.json: corrupt catalog entry/ },
  { name: 'an entry of 1.5 GiB (sparse)', damage: async (ctx) => { await withoutRollUp(ctx); await truncate(entryOf(ctx), 1.5 * GiB); }, key: /skipped catalog\/victim\.json: .*more than the \d+ such a file can hold/ },
  { name: 'an entry naming another model', damage: async (ctx) => { await withoutRollUp(ctx); await ctx.writeJson(entryOf(ctx), { ...(await ctx.readJson(ctx.path('catalog', 'good.json'))) }); }, key: /skipped catalog\/victim\.json: names model good, not victim/ },
  { name: 'index.json as a FIFO', damage: async (ctx) => { await rm(indexFile(ctx)); const { execFileSync } = await import('node:child_process'); execFileSync('mkfifo', [indexFile(ctx)]); }, key: /skipped index\.json: .*not a regular file/ },
];

describe('hostile catalog: list and search step over what does not read', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it.each(cases)('$name', async ({ damage, key }) => {
    const ctx = await damagedWorkspace();
    try {
      await damage(ctx);
      const before = await snapshot(ctx.ws.dir, ['aim-home']);
      const list = await runBounded(ctx.ws, ['list', '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.json().models.map((m: { model: string }) => m.model)).toEqual(['good', 'victim']);
      expect(list.stderr).toMatch(new RegExp(`^aim: warning: r: ${key.source}`, 'm'));
      const search = await runBounded(ctx.ws, ['search', 'victim']);
      expect(search.code, search.stderr).toBe(0);
      expect(search.stdout).toContain('r/victim:latest');
      for (const output of [list.stdout, list.stderr, search.stdout, search.stderr]) {
        expect(output).not.toContain(SECRET);
        expect(output).not.toContain('\u001b');
      }
      await expectUnchanged(ctx.ws.dir, before, ['aim-home']);
    } finally {
      await ctx.ws.cleanup();
    }
  });
});

describe('hostile catalog: a million broken parts of index.json', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it('cost a few warning lines, not one per part, and list still shows both models', async () => {
    const ctx = await damagedWorkspace();
    try {
      const index = await ctx.readJson(indexFile(ctx));
      for (let i = 0; i < 200_000; i++) index.models[`junk${i}`] = { format: 1, model: `junk${i}` };
      await ctx.writeJson(indexFile(ctx), index);
      const list = await runBounded(ctx.ws, ['list', '--json'], { timeoutMs: 60_000 });
      expect(list.code, list.stderr).toBe(0);
      expect(list.json().models.map((m: { model: string }) => m.model)).toEqual(['good', 'victim']);
      const warnings = list.stderr.split('\n').filter((line) => line.startsWith('aim: warning:'));
      expect(warnings.length).toBeLessThanOrEqual(21);
      expect(list.stderr).toMatch(/the parts of 199990 more models do not read either/);
    } finally {
      await ctx.ws.cleanup();
    }
  });
});

describe('hostile catalog: text that would forge a row of the table', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it('a line break or escape in a quantization stays inside its cell in list and search', async () => {
    const ctx = await damagedWorkspace();
    try {
      const index = await ctx.readJson(indexFile(ctx));
      index.models.victim.quantizations = ['Q4_0\nforged/row:latest  1 GiB\r\u001b[2J'];
      await ctx.writeJson(indexFile(ctx), index);
      for (const args of [['list'], ['search', 'victim']]) {
        const result = await runBounded(ctx.ws, args);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain('Q4_0\\nforged/row:latest');
        expect(result.stdout.split('\n').some((line) => line.startsWith('forged'))).toBe(false);
        expect(result.stdout).not.toMatch(/[\r\u001b]/);
      }
    } finally {
      await ctx.ws.cleanup();
    }
  });
});

describe('hostile annotations: text that would forge a line of aim inspect', () => {
  beforeAll(buildPristine);
  afterAll(dropPristine);

  it('a line break in an annotation stays on its line, so an unsigned version cannot print a "signed" line', async () => {
    const ctx = await damagedWorkspace();
    try {
      await ctx.ws.json(['push', 'r/forged:v1', 'src', '--annotation', 'note=hello\nsigned  release-key (verified)']);
      const result = await runBounded(ctx.ws, ['inspect', 'r/forged:v1']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.split('\n').filter((line) => line.startsWith('signed'))).toEqual(['signed  no']);
      expect(result.stdout).toContain('note: hello\\nsigned  release-key (verified)');
    } finally {
      await ctx.ws.cleanup();
    }
  });
});
