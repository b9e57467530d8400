// The catalog through the built CLI over two local repositories: index.json after pushes, concurrent pushes of
// different models, deletes and tag moves; reindex after index.json is deleted or damaged; `list` and `search`
// (ranking, filters, a repository that cannot be reached); contribution rules; short digests.
import { mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';

async function writeFolder(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(`${dir}/${path}`, text);
}

describe('catalog (local repositories, e2e)', () => {
  let ws: Workspace;
  const indexOf = async (repo: string) => JSON.parse(await readFile(ws.path(repo, 'index.json'), 'utf8'));

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ alpha: { type: 'local', path: `${dir}/alpha` }, beta: { type: 'local', path: `${dir}/beta` } }));
    await writeTinyGgufInto(ws.path('llama'), { quant: 'q8_0', name: 'tiny-llama' });
    await writeFolder(ws.path('plain'), { 'weights.bin': 'plain weights' });
  });
  afterAll(() => ws.cleanup());

  it('puts every model of concurrent pushes into index.json, with its metadata', async () => {
    const models = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
    for (const model of models) await writeFolder(ws.path('src', model), { 'w.bin': `weights of ${model}` });
    const runs = models.map((model) => ws.start(['push', `alpha/${model}:v1`, ws.path('src', model), '--description', `model ${model}`, '-q']).result);
    for (const result of await Promise.all(runs)) expect(result.code, result.stderr).toBe(0);
    const index = await indexOf('alpha');
    expect(index.format).toBe(2);
    expect(Object.keys(index.models).sort()).toEqual(models);
    expect(index.models.m3.description).toBe('model m3');
    expect(index.models.m3.tags.v1.size).toBe('weights of m3'.length);
  });

  it('keeps every tag of concurrent pushes of one model in its entry', async () => {
    const tags = ['t0', 't1', 't2', 't3'];
    const runs = tags.map((tag, i) => ws.start(['push', `alpha/same:${tag}`, ws.path('src', `m${i}`), '-q']).result);
    for (const result of await Promise.all(runs)) expect(result.code, result.stderr).toBe(0);
    expect(Object.keys((await indexOf('alpha')).models.same.tags).sort()).toEqual(['latest', ...tags]);
    expect(Object.keys(JSON.parse(await readFile(ws.path('alpha', 'catalog', 'same.json'), 'utf8')).tags).sort()).toEqual(['latest', ...tags]);
    await ws.json(['model', 'delete', 'alpha', 'same']);
  });

  it('records description, license, source, annotations and GGUF facts, and the reference to fetch', async () => {
    await ws.json(['push', 'alpha/tiny-llama:v1', ws.path('llama'), '--description', 'A tiny llama for tests', '--license', 'mit', '--source', 'https://example.com/tiny', '--annotation', 'task=chat']);
    const entry = (await indexOf('alpha')).models['tiny-llama'];
    expect(entry).toMatchObject({
      kind: 'model', description: 'A tiny llama for tests', license: 'mit', source: 'https://example.com/tiny',
      architecture: 'llama', contextLength: expect.any(Number), parameters: expect.any(Number), quantizations: ['Q8_0'],
      latest: { tag: 'latest' },
    });
    expect(entry.annotations.task).toBe('chat');
    const listed = await ws.json(['list', '--repo', 'alpha']);
    expect(listed.models.find((m: { model: string }) => m.model === 'tiny-llama').reference).toBe('alpha/tiny-llama:latest');
  });

  it('follows tag moves and deletes', async () => {
    await writeFolder(ws.path('moved'), { 'w.bin': 'other weights' });
    const moved = await ws.json(['push', 'alpha/m0:v1', ws.path('moved'), '--force']);
    expect((await indexOf('alpha')).models.m0.tags.v1.digest).toBe(moved.digest);
    await ws.json(['push', 'alpha/m0:v2', ws.path('src', 'm1')]);
    await ws.json(['model', 'delete-version', 'alpha', 'm0', '--tag', 'v2']);
    expect(Object.keys((await indexOf('alpha')).models.m0.tags).sort()).toEqual(['latest', 'v1']);
    await ws.json(['model', 'delete', 'alpha', 'm5']);
    expect((await indexOf('alpha')).models.m5).toBeUndefined();
    const listed = await ws.json(['list', '--repo', 'alpha']);
    expect(listed.models.map((m: { model: string }) => m.model)).not.toContain('m5');
  });

  it('lists from the entries when index.json is lost, damaged or huge, and reindex rebuilds it from the tags', async () => {
    const before = (await ws.json(['list', '--repo', 'alpha'])).models.map((m: { model: string }) => m.model);
    await rm(ws.path('alpha', 'index.json'));
    expect((await ws.json(['list', '--repo', 'alpha'])).models.map((m: { model: string }) => m.model)).toEqual(before);

    await writeFile(ws.path('alpha', 'index.json'), '{"format": 2, "models": [');
    const damaged = await ws.run(['list', '--repo', 'alpha', '--json']);
    expect(damaged.code).toBe(0);
    expect(damaged.json().models.map((m: { model: string }) => m.model)).toEqual(before);
    expect(damaged.stderr).toMatch(/skipped index\.json: corrupt catalog index\.json at index\.json in .*: not valid JSON/);

    // A sparse file larger than any index.json aim writes is refused from its size, unread.
    await truncate(ws.path('alpha', 'index.json'), 600 * 1024 * 1024);
    const huge = await ws.run(['list', '--repo', 'alpha', '--json']);
    expect(huge.code).toBe(0);
    expect(huge.stderr).toMatch(/index\.json.*more than the \d+ such a file can hold/);

    // An index.json of an older aim (tags only) and no entries: the tags alone, and a pointer to reindex.
    await rm(ws.path('alpha', 'catalog'), { recursive: true });
    await writeFile(ws.path('alpha', 'index.json'), JSON.stringify({ format: 1, updatedAt: new Date().toISOString(), models: {} }));
    const older = await ws.run(['list', '--repo', 'alpha', '--json']);
    expect(older.json().models.map((m: { model: string }) => m.model)).toEqual(before);
    expect(older.stderr).toMatch(/index\.json in .* was written by an older aim \(format 1, tags only\)/);

    // Neither index.json nor entries: the tags alone.
    await rm(ws.path('alpha', 'index.json'));
    expect((await ws.json(['list', '--repo', 'alpha'])).models.map((m: { model: string }) => m.model)).toEqual(before);

    const rebuilt = await ws.json(['repo', 'reindex', 'alpha']);
    expect(rebuilt.models).toBe(before.length);
    const index = await indexOf('alpha');
    expect(Object.keys(index.models).sort()).toEqual([...before].sort());
    expect(index.models['tiny-llama'].description).toBe('A tiny llama for tests');
  });

  it('steps over a damaged entry, naming it, and rebuilds that model from its tags', async () => {
    await rm(ws.path('alpha', 'index.json'));
    await writeFile(ws.path('alpha', 'catalog', 'm1.json'), JSON.stringify({ format: 1, kind: 'model', model: 'm1', tags: 'nope' }));
    const listed = await ws.run(['list', '--repo', 'alpha', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(/skipped catalog\/m1\.json: corrupt catalog entry/);
    expect(listed.json().models.find((m: { model: string }) => m.model === 'm1').tags.v1).toBeDefined();
    await ws.json(['repo', 'reindex', 'alpha']);
  });

  it('searches every repository, ranked, with filters, and reports one that cannot be reached', async () => {
    await ws.json(['push', 'beta/tiny:v1', ws.path('plain'), '--description', 'not a llama at all']);
    await ws.json(['push', 'beta/llama-tiny-chat:v1', ws.path('llama'), '--description', 'chat model']);
    const hits = (await ws.json(['search', 'tiny'])).hits.map((h: { reference: string }) => h.reference);
    // Exact name, then name prefix, then a word of the name.
    expect(hits).toEqual(['beta/tiny:latest', 'alpha/tiny-llama:latest', 'beta/llama-tiny-chat:latest']);
    const llama = (await ws.json(['search', 'llama'])).hits.map((h: { reference: string; match: string }) => `${h.reference} ${h.match}`);
    expect(llama).toEqual(['beta/llama-tiny-chat:latest name-prefix', 'alpha/tiny-llama:latest name-word', 'beta/tiny:latest description']);
    const q8 = (await ws.json(['search', 'tiny', '--quant', 'q8_0', '--arch', 'LLAMA'])).hits.map((h: { reference: string }) => h.reference);
    expect(q8).toEqual(['alpha/tiny-llama:latest', 'beta/llama-tiny-chat:latest']);
    expect((await ws.json(['search', 'tiny', '--max-size', '1KiB'])).hits.map((h: { reference: string }) => h.reference)).toEqual(['beta/tiny:latest']);
    expect((await ws.json(['search', 'tiny', '--repo', 'beta'])).hits).toHaveLength(2);
    // Both words in the name outrank a name prefix plus an annotation (task=chat).
    expect((await ws.json(['search', 'tiny', 'chat'])).hits.map((h: { reference: string }) => h.reference)).toEqual(['beta/llama-tiny-chat:latest', 'alpha/tiny-llama:latest']);
    expectUserError(await ws.run(['search', 'tiny', '--max-size', 'lots']), /--max-size lots is not a size/);

    await rm(ws.path('beta'), { recursive: true });
    const partial = await ws.run(['search', 'tiny', '--json']);
    expect(partial.code).toBe(0);
    expect(partial.json().hits.map((h: { reference: string }) => h.reference)).toEqual(['alpha/tiny-llama:latest']);
    expect(partial.stderr).toMatch(/repository beta could not be read, its models are not shown: repository folder .* does not exist/);
    expectUserError(await ws.run(['list', '--repo', 'beta']), /repository folder .* does not exist/);
    // A misspelt --repo among others is refused (it was one more "could not be read" warning, exit 0); one given
    // twice is listed once.
    const typo = await ws.run(['list', '--repo', 'alpha', '--repo', 'alfa']);
    expect(typo.code).toBe(3);
    expectUserError(typo, /repository "alfa" is not in/);
    expect((await ws.json(['list', '--repo', 'alpha', '--repo', 'alpha'])).models.map((m: { model: string }) => m.model)).toEqual(
      (await ws.json(['list', '--repo', 'alpha'])).models.map((m: { model: string }) => m.model),
    );
  });

  it('accepts the short digest `versions` prints wherever a digest is', async () => {
    const { versions } = await ws.json(['model', 'versions', 'alpha', 'tiny-llama']);
    const digest: string = versions[0].digest;
    const short = digest.slice(7, 19);
    expect((await ws.json(['inspect', `alpha/tiny-llama@${short}`])).digest).toBe(digest);
    const pulled = await ws.json(['pull', `alpha/tiny-llama@${short.slice(0, 8)}`, ws.path('pulled')]);
    expect(pulled.digest).toBe(digest);
    expectUserError(await ws.run(['inspect', `alpha/tiny-llama@${short.slice(0, 4)}`]), /digest prefix "[0-9a-f]{4}" is too short/);
    expect(expectUserError(await ws.run(['inspect', 'alpha/tiny-llama@0000000']), /no version of alpha\/tiny-llama has a digest starting with 0000000/)).toBeTruthy();
  });
});

describe('contribution rules (aim-repo.json requires)', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ strict: { type: 'local', path: `${dir}/strict` } }));
    await writeTinyGgufInto(ws.path('llama'), { quant: 'q8_0' });
    await writeFolder(ws.path('plain'), { 'weights.bin': 'x'.repeat(1536 * 1024) });
    await ws.json(['push', 'strict/seed:v1', ws.path('llama')]); // writes aim-repo.json
    const metadata = JSON.parse(await readFile(ws.path('strict', 'aim-repo.json'), 'utf8'));
    metadata.requires = { description: true, license: true, ggufValid: true, maxSize: '1MiB', annotations: ['task'] };
    await writeFile(ws.path('strict', 'aim-repo.json'), JSON.stringify(metadata));
  });
  afterAll(() => ws.cleanup());

  it('refuses a push that misses any, listing every missing item, before uploading anything', async () => {
    const result = await ws.run(['push', 'strict/bad:v1', ws.path('plain')]);
    const line = expectUserError(result, /repository strict requires these before a push/);
    expect(result.code).toBe(2);
    for (const item of ['description (--description TEXT)', 'license (--license SPDX-ID)', 'annotation task (--annotation task=VALUE)', 'a GGUF file', 'a size of at most 1MiB']) {
      expect(line).toContain(item);
    }
    expect((await ws.json(['model', 'list', 'strict'])).models.map((m: { name: string }) => m.name)).toEqual(['seed']);
  });

  it('sets, shows and removes the rules with `aim repo require`, also on a repository never pushed to', async () => {
    await ws.json(['repo', 'create', 'fresh', '--path', ws.path('fresh')]);
    expect(await ws.json(['repo', 'require', 'fresh', '--license', '--max-size', '20GiB'])).toEqual({ repo: 'fresh', requires: { license: true, maxSize: '20GiB' } });
    expect((await ws.json(['repo', 'require', 'fresh'])).requires).toEqual({ license: true, maxSize: '20GiB' });
    expectUserError(await ws.run(['push', 'fresh/m:v1', ws.path('llama')]), /requires this before a push: license \(--license SPDX-ID\)$/);
    expectUserError(await ws.run(['repo', 'require', 'fresh', '--max-size', 'huge']), /--max-size huge is not a size/);
    expect((await ws.json(['repo', 'require', 'fresh', '--none'])).requires).toBeNull();
    expect((await ws.json(['push', 'fresh/m:v1', ws.path('llama')])).tagOutcome).toBe('created');
  });

  it('names a GGUF file whose header does not read, and takes a push that meets every rule', async () => {
    await writeFolder(ws.path('broken'), { 'model-Q4_K_M.gguf': 'GGUF but not really' });
    expectUserError(await ws.run(['push', 'strict/bad:v1', ws.path('broken'), '--description', 'd', '--license', 'mit', '--annotation', 'task=chat']), /a valid GGUF header in model-Q4_K_M\.gguf/);
    const pushed = await ws.json(['push', 'strict/good:v1', ws.path('llama'), '--description', 'd', '--license', 'mit', '--annotation', 'task=chat']);
    expect(pushed.tagOutcome).toBe('created');
  });
});
