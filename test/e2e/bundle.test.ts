// Bundles through the built CLI over a local repository: `aim bundle` writes an immutable bundle manifest and its
// tags, the catalog lists it, pull/inspect/verify act on every member, gc keeps the members of a bundle whose own
// tags are gone, and hostile bundle manifests (garbage, huge, too many members, a missing member, a member named
// `../x`, a bundle naming a bundle) fail with one plain line and write nothing outside DEST.
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, expectSameTree, expectUserError, type Workspace } from '../helpers/cli.js';
import { expectRefused, expectUnchanged, snapshot } from '../hostile/harness.js';

async function writeFolder(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
}

/** Where the bundle manifest of `digest` lives in a repository folder. */
const bundlePath = (repo: string, digest: string) => join(repo, 'bundles', 'blake3', digest.slice(7, 9), digest.slice(7));

describe('aim bundle (local repository, e2e)', () => {
  let ws: Workspace;
  const repo = () => ws.path('r');

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/r`, packs: true }, other: { type: 'local', path: `${dir}/other` } }));
    await writeFolder(ws.path('chat'), { 'weights.bin': 'chat weights '.repeat(5000), 'config.json': '{"chat":true}' });
    await writeFolder(ws.path('embed'), { 'weights.bin': 'embedder weights '.repeat(3000) });
    await writeFolder(ws.path('chat2'), { 'weights.bin': 'chat weights, second version '.repeat(5000) });
    await ws.json(['push', 'r/chat:v1', ws.path('chat')]);
    await ws.json(['push', 'r/embed:v1', ws.path('embed')]);
    await ws.json(['push', 'other/far:v1', ws.path('embed')]);
  });
  afterAll(() => ws.cleanup());

  it('bundles versions by digest, lists it in the catalog, and pulls, inspects and verifies every member', async () => {
    const made = await ws.json(['bundle', 'r/kit:v1', 'chat:v1', 'embed', '--description', 'chat and embeddings']);
    expect(made).toMatchObject({ name: 'kit', tag: 'v1', outcome: 'created', members: [{ model: 'chat', tag: 'v1' }, { model: 'embed', tag: 'latest' }] });
    expect(JSON.parse(await readFile(bundlePath(repo(), made.digest), 'utf8')).mediaType).toBe('application/vnd.aim.bundle.v1+json');

    // Moving a member's tag later does not change the bundle: it names digests.
    await ws.json(['push', 'r/chat:v1', ws.path('chat2'), '--force']);
    const out = ws.path('out-kit');
    const pulled = await ws.json(['pull', 'r/kit:v1', out]);
    expect(pulled.members.map((m: { model: string }) => m.model)).toEqual(['chat', 'embed']);
    await expectSameTree(join(out, 'chat'), ws.path('chat'));
    await expectSameTree(join(out, 'embed'), ws.path('embed'));
    const folder = await ws.run(['verify', join(out, 'chat')]);
    expect(folder.code, folder.stderr).toBe(0);

    const inspected = await ws.json(['inspect', 'r/kit']);
    expect(inspected).toMatchObject({ kind: 'bundle', bundle: 'kit', tag: 'latest', digest: made.digest });
    expect(inspected.members.map((m: { model: string; size: number }) => [m.model, m.size])).toEqual([['chat', made.members[0].size], ['embed', made.members[1].size]]);
    const human = await ws.run(['inspect', 'r/kit:v1']);
    expect(human.stdout).toMatch(/MEMBER\s+TAG\s+DIGEST/);

    const verified = await ws.json(['verify', 'r', 'kit:v1']);
    expect(verified).toMatchObject({ kind: 'bundle', ok: true, versions: 2 });
    expect(verified.chunksChecked).toBeGreaterThan(0);

    const listed = await ws.json(['list', '--repo', 'r']);
    const entry = listed.models.find((m: { model: string }) => m.model === 'kit');
    expect(entry).toMatchObject({ kind: 'bundle', description: 'chat and embeddings' });
    expect(entry.members.map((m: { model: string }) => m.model)).toEqual(['chat', 'embed']);
    expect((await ws.run(['list', '--repo', 'r'])).stdout).toMatch(/kit \(bundle of 2\)/);
    const versions = await ws.json(['model', 'versions', 'r', 'kit']);
    expect(versions).toMatchObject({ kind: 'bundle', model: 'kit' });
    expect(versions.versions.map((v: { tag: string }) => v.tag).sort()).toEqual(['latest', 'v1']);
    expect((await ws.run(['model', 'versions', 'r', 'kit'])).stdout).toMatch(/kit is a bundle/);

    // The 12 hex digits `model versions` prints name the bundle too, as they name a model's version.
    const short = made.digest.slice('blake3:'.length, 'blake3:'.length + 12);
    expect(await ws.json(['inspect', `r/kit@${short}`])).toMatchObject({ kind: 'bundle', digest: made.digest });
    const byShort = await ws.json(['pull', `r/kit@${short}`, ws.path('out-kit-short')]);
    expect(byShort.members.map((m: { model: string }) => m.model)).toEqual(['chat', 'embed']);
    const unknown = await ws.run(['inspect', 'r/kit@0000000']);
    expectUserError(unknown, /no version of bundle r\/kit has a digest starting with 0000000/);
    expect(unknown.code).toBe(3);
  });

  it('keeps a bundle tag immutable unless --force, and leaves it unchanged on the same members', async () => {
    expect((await ws.json(['bundle', 'r/pair:v1', 'embed:v1'])).outcome).toBe('created');
    expect((await ws.json(['bundle', 'r/pair:v1', 'embed:v1'])).outcome).toBe('unchanged');
    expectUserError(await ws.run(['bundle', 'r/pair:v1', 'embed:v1', 'chat:v1']), /tag v1 of r\/pair already names other content/);
    const moved = await ws.json(['bundle', 'r/pair:v1', 'embed:v1', 'chat:v1', '--force']);
    expect(moved.outcome).toBe('moved');
    expect((await ws.json(['inspect', 'r/pair:latest'])).digest).toBe(moved.digest);

    // Reindex rebuilds the bundles' entries from their tags, as it does the models'.
    await rm(ws.path('r', 'index.json'));
    await rm(ws.path('r', 'catalog', 'pair.json'));
    await ws.json(['repo', 'reindex', 'r']);
    const index = JSON.parse(await readFile(ws.path('r', 'index.json'), 'utf8'));
    expect(index.models.pair).toMatchObject({ kind: 'bundle', latest: { digest: moved.digest }, members: [{ model: 'embed' }, { model: 'chat' }] });

    // untag removes a bundle's tag as it does a model's; with the last one the bundle leaves the catalog.
    expect((await ws.json(['untag', 'r/pair:v1'])).deleted).toEqual(['v1', 'latest']);
    expect((await ws.json(['list', '--repo', 'r'])).models.map((m: { model: string }) => m.model)).not.toContain('pair');
    expectUserError(await ws.run(['pull', 'r/pair:v1', ws.path('gone')]), /not found/);
  });

  it('refuses cross-repository members, nesting, a model name, and unknown members with a plain line', async () => {
    expect(expectUserError(await ws.run(['bundle', 'r/kit2:v1', 'other/far:v1']))).toMatch(/in repository other, not r/);
    expect((await ws.run(['bundle', 'r/kit2:v1', 'other/far:v1'])).stderr).toMatch(/aim copy other\/far:v1 r/);
    expectUserError(await ws.run(['bundle', 'r/kit2:v1', 'kit:v1']), /kit is a bundle: bundles do not nest/);
    expectUserError(await ws.run(['bundle', 'r/chat:v9', 'embed']), /chat is a model in repository r/);
    const missing = await ws.run(['bundle', 'r/kit2:v1', 'nothing:v1']);
    expectUserError(missing, /not found/);
    expect(missing.code).toBe(3);
    expectUserError(await ws.run(['bundle', 'r/kit2:v1', '../up']), /invalid (model|repository) name/);
  });

  it('refuses a push or copy of a model under a bundle\'s name, before any byte moves', async () => {
    const pushed = await ws.run(['push', 'r/kit:v9', ws.path('embed')]);
    expectUserError(pushed, /kit is a bundle in repository r: a model cannot take its name/);
    expect(pushed.code).toBe(5);
    const copied = await ws.run(['copy', 'other/far:v1', 'r/kit:v9']);
    expectUserError(copied, /kit is a bundle in repository r/);
    expect(copied.code).toBe(5);
    expect((await ws.json(['model', 'versions', 'r', 'kit'])).kind).toBe('bundle');
  });

  it('gc keeps the members of a bundle whose models lost every tag: the bundle still pulls and verifies', async () => {
    await writeFolder(ws.path('lonely'), { 'lonely.bin': 'only a bundle keeps these bytes '.repeat(4000) });
    await writeFolder(ws.path('lonely2'), { 'lonely2.bin': 'and these bytes too '.repeat(4000) });
    await ws.json(['push', 'r/lonely:v1', ws.path('lonely')]);
    await ws.json(['push', 'r/lonely2:v1', ws.path('lonely2')]);
    await ws.json(['bundle', 'r/keep:v1', 'lonely:v1', 'lonely2:v1']);
    const versionsBefore = (await ws.json(['verify', 'r'])).versions;
    await ws.json(['model', 'delete', 'r', 'lonely']);
    await ws.json(['model', 'delete', 'r', 'lonely2']);
    await ws.json(['gc', 'r', '--yes', '--grace', '0']);
    // Verifying the whole repository checks the versions only the bundle keeps, too.
    const whole = await ws.json(['verify', 'r']);
    expect(whole.ok).toBe(true);
    expect(whole.versions).toBe(versionsBefore);
    const out = ws.path('out-keep');
    await ws.json(['pull', 'r/keep:v1', out]);
    await expectSameTree(join(out, 'lonely'), ws.path('lonely'));
    await expectSameTree(join(out, 'lonely2'), ws.path('lonely2'));
    expect((await ws.json(['verify', 'r', 'keep:v1'])).ok).toBe(true);
  });

  it('install installs every member, update follows the bundle tag, rm frees what no other bundle names', async () => {
    await writeFolder(ws.path('emb-a'), { 'emb.bin': 'embedder A '.repeat(4000) });
    await writeFolder(ws.path('emb-b'), { 'emb.bin': 'embedder B '.repeat(4000) });
    await ws.json(['push', 'r/emb:a', ws.path('emb-a')]);
    await ws.json(['push', 'r/emb:b', ws.path('emb-b')]);
    await ws.json(['push', 'r/tok:v1', ws.path('embed')]);
    await ws.json(['bundle', 'r/suite:stable', 'emb:a', 'tok:v1', '--description', 'embedder suite']);

    // By bare name, found through the catalog like a model.
    const installed = await ws.json(['install', 'suite:stable']);
    expect(installed).toMatchObject({ kind: 'bundle', reference: 'r/suite:stable' });
    expect(installed.members.map((m: { reference: string }) => m.reference.split('@')[0])).toEqual(['r/emb', 'r/tok']);
    const before = await ws.json(['installed']);
    expect(before.bundles).toMatchObject([{ repo: 'r', bundle: 'suite', tag: 'stable', digest: installed.digest }]);
    const embA = before.models.find((m: { reference: string }) => m.reference.startsWith('r/emb@'));
    await expectSameTree(embA.folder, ws.path('emb-a'));

    expect((await ws.json(['update', 'suite'])).updates).toMatchObject([{ reference: 'r/suite:stable', status: 'up to date' }]);
    await ws.json(['bundle', 'r/suite:stable', 'emb:b', 'tok:v1', '--force']);
    const updated = await ws.json(['update', 'suite']);
    expect(updated.updates).toMatchObject([{ reference: 'r/suite:stable', status: 'updated' }]);
    expect(updated.bytesTransferred).toBe('embedder B '.repeat(4000).length);
    const after = (await ws.json(['installed'])).models.map((m: { reference: string }) => m.reference);
    expect(after.filter((r: string) => r.startsWith('r/emb@'))).toHaveLength(1);
    const embB = (await ws.json(['installed'])).models.find((m: { reference: string }) => m.reference.startsWith('r/emb@'));
    await expectSameTree(embB.folder, ws.path('emb-b'));

    const removed = await ws.json(['rm', 'suite']);
    expect(removed.removed).toHaveLength(2);
    expect((await ws.json(['installed'])).models.filter((m: { reference: string }) => /^r\/(emb|tok)@/.test(m.reference))).toEqual([]);
    expectUserError(await ws.run(['rm', 'suite']), /suite is not installed/);
  });

  it('run refuses a bundle with a member no engine can serve, starting nothing', async () => {
    const refused = await ws.run(['run', 'r/kit:v1']);
    expectUserError(refused, /member chat of bundle r\/kit:v1 holds no GGUF file/);
    expect(refused.code).toBe(2);
    expect((await ws.json(['ps'])).deployments).toEqual([]);
  });

  describe('hostile bundle manifests', () => {
    const plant = async (name: string, bytes: string | Buffer): Promise<void> => {
      // A tag naming a digest whose key holds these bytes: the digest check or the schema must refuse it.
      const digest = `blake3:${'ab'.repeat(32)}`;
      await mkdir(join(repo(), 'bundles', name, 'tags'), { recursive: true });
      await writeFile(join(repo(), 'bundles', name, 'tags', 'v1'), JSON.stringify({ digest, pushedAt: new Date().toISOString(), size: 1, files: 1 }));
      await mkdir(join(bundlePath(repo(), digest), '..'), { recursive: true });
      await writeFile(bundlePath(repo(), digest), bytes);
    };
    /** A bundle manifest stored under its true digest (so only the schema or the members can refuse it). */
    const plantExact = async (name: string, body: unknown): Promise<string> => {
      const bytes = Buffer.from(`${JSON.stringify(body)}\n`);
      const { digestOf } = await import('../../src/core/format/digest.js');
      const digest = await digestOf(bytes);
      await mkdir(join(bundlePath(repo(), digest), '..'), { recursive: true });
      await writeFile(bundlePath(repo(), digest), bytes);
      await mkdir(join(repo(), 'bundles', name, 'tags'), { recursive: true });
      await writeFile(join(repo(), 'bundles', name, 'tags', 'v1'), JSON.stringify({ digest, pushedAt: new Date().toISOString(), size: 1, files: 1 }));
      return digest;
    };
    const member = (model: string, digest: string) => ({ model, digest, size: 1, files: 1 });
    const base = { schemaVersion: 1, mediaType: 'application/vnd.aim.bundle.v1+json', annotations: {} };

    const expectNothingWritten = async (name: string, message: RegExp, code: number): Promise<void> => {
      const dest = ws.path(`dest-${name}`);
      await mkdir(dest, { recursive: true });
      const before = await snapshot(ws.dir, [`dest-${name}`, 'aim-home']);
      for (const args of [['pull', `r/${name}:v1`, dest], ['inspect', `r/${name}:v1`]]) {
        await expectRefused(ws, args, message);
        expect((await ws.run(args)).code).toBe(code);
      }
      // verify prints each problem, then one line counting them.
      const verified = await ws.run(['verify', 'r', `${name}:v1`]);
      expectUserError(verified);
      expect(verified.code).toBe(code);
      await expectUnchanged(ws.dir, before, [`dest-${name}`, 'aim-home']);
      expect((await snapshot(dest)).size).toBe(0);
    };

    it('a link planted at DEST/<member> is refused, and nothing outside DEST changes', async () => {
      const dest = ws.path('dest-link');
      await mkdir(ws.path('elsewhere'), { recursive: true });
      await mkdir(dest, { recursive: true });
      await ws.json(['bundle', 'r/linked:v1', 'embed:v1']);
      await symlink(ws.path('elsewhere'), join(dest, 'embed'));
      const before = await snapshot(ws.dir, ['dest-link', 'aim-home']);
      const refused = await expectRefused(ws, ['pull', 'r/linked:v1', dest]);
      expect(refused).toMatch(/link/);
      await expectUnchanged(ws.dir, before, ['dest-link', 'aim-home']);
      expect(await readdir(ws.path('elsewhere'))).toEqual([]);
    });

    it('garbage bytes', async () => {
      await plant('garbage', 'not json at all {');
      await expectNothingWritten('garbage', /bundle blake3:abab.* in repository r is corrupt/, 4);
    });

    it('a huge object', async () => {
      await plant('huge', Buffer.alloc(3 * 1024 * 1024, 32));
      await expectNothingWritten('huge', /more than the 65536/, 4);
    });

    it('10^6 members', async () => {
      const digest = `blake3:${'cd'.repeat(32)}`;
      const members = Array.from({ length: 1_000_000 }, (_, i) => member(`m${i}`, digest));
      await plant('million', JSON.stringify({ ...base, members }));
      await expectNothingWritten('million', /more than the 65536|corrupt bundle/, 4);
      await plantExact('many', { ...base, members: members.slice(0, 100).map((m, i) => ({ ...m, model: `m${i}` })) });
      await expectNothingWritten('many', /names more than 64 members/, 4);
    });

    it('a member that does not exist, one named ../x, and one that is a bundle', async () => {
      await plantExact('ghost', { ...base, members: [member('chat', `blake3:${'ef'.repeat(32)}`)] });
      await expectNothingWritten('ghost', /names chat@blake3:efef.*does not hold/, 4);
      const { digest } = await ws.json(['inspect', 'r/embed:v1']);
      await plantExact('escape', { ...base, members: [member('../x', digest)] });
      await expectNothingWritten('escape', /members\.0\.model.*not a valid name|not a valid name/, 4);
      const kit = (await ws.json(['inspect', 'r/kit:v1'])).digest;
      await plantExact('nested', { ...base, members: [member('kit', kit)] });
      await expectNothingWritten('nested', /names kit@.*does not hold/, 4);
    });
  });
});
