// aim tag and untag through the built CLI, on a folder and on each S3 server: a second name moves no data, takes
// the push's compare-and-swap (a tag naming other content is refused unless --force, the same content again is
// "unchanged", `latest` does not move), index.json follows, and of writers racing to create one tag with different
// versions the tag names one of them; in a folder every loser is told with exit 5.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../src/backends/s3/s3.js';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectUserError, type RepoEntry, type Workspace } from '../helpers/cli.js';
import { S3RVER_ENV, useS3rverCredentials } from '../helpers/s3-server.js';
import { s3Servers } from '../helpers/s3-servers.js';

useS3rverCredentials();

const places: Array<{ name: string; entry: (dir: string) => RepoEntry; cleanup?: () => Promise<void> }> = [
  { name: 'local folder', entry: (dir) => ({ type: 'local', path: `${dir}/repo`, packs: true }) },
  ...s3Servers().map((server) => {
    const path = `s3://${server.bucket}/tag-${randomUUID()}`;
    return {
      name: server.name,
      entry: (): RepoEntry => ({ type: 's3', path, region: 'us-east-1', endpoint: server.endpoint }),
      cleanup: async () => {
        const direct = new S3Backend({ type: 's3', path, endpoint: server.endpoint, region: 'us-east-1' });
        for await (const item of direct.list('')) await direct.delete(item.key);
        await direct.close();
      },
    };
  }),
];

describe.each(places)('aim tag and untag on $name', (place) => {
  let ws: Workspace;
  let v1 = '';
  let v2 = '';
  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: place.entry(dir) }), S3RVER_ENV);
    await generateModel(ws.path('v1'), { files: [{ path: 'w.bin', size: 200_000 }], seed: 'tag-1' });
    await generateModel(ws.path('v2'), { files: [{ path: 'w.bin', size: 200_000 }], seed: 'tag-2' });
    v1 = (await ws.json(['push', 'r/m:v1', ws.path('v1')])).digest;
    v2 = (await ws.json(['push', 'r/m:v2', ws.path('v2')])).digest;
  });
  afterAll(async () => {
    await place.cleanup?.();
    await ws.cleanup();
  });
  const digestOf = async (ref: string): Promise<string> => (await ws.json(['inspect', ref])).digest;

  it('names a version again without moving latest; refuses other content unless --force; untag removes one name', async () => {
    expect(await ws.json(['tag', 'r/m:v1', 'stable'])).toMatchObject({ tag: 'stable', digest: v1, outcome: 'created' });
    expect(await ws.json(['tag', `r/m@${v1}`, 'stable'])).toMatchObject({ outcome: 'unchanged' });
    expect(await digestOf('r/m:latest')).toBe(v2);
    const refused = await ws.run(['tag', 'r/m:v2', 'stable']);
    expectUserError(refused, /already names other content/);
    expect(refused.code).toBe(5);
    expect(await ws.json(['tag', 'r/m:v2', 'stable', '--force'])).toMatchObject({ outcome: 'moved', digest: v2 });
    expect(await ws.json(['tag', 'r/m:v1', 'other:first'])).toMatchObject({ model: 'other', tag: 'first', digest: v1 });
    const versions = await ws.json(['model', 'versions', 'r', 'm']);
    expect(versions.versions.map((v: { tag: string }) => v.tag).sort()).toEqual(['latest', 'stable', 'v1', 'v2']);
    expect((await ws.json(['untag', 'r/m:stable'])).deleted).toEqual(['stable']);
    expect((await ws.run(['inspect', 'r/m:stable'])).code).toBe(3);
    expectUserError(await ws.run(['untag', 'r/m:nope']), /not found/);
    expectUserError(await ws.run(['tag', 'r/m:nope', 'x']), /not found/);
  });

  it('writers racing to create one tag with different versions: the tag names one of them; in a folder every loser exits 5', async () => {
    const tag = `race-${randomUUID().slice(0, 8)}`;
    const sources = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? 'v1' : 'v2'));
    const results = await Promise.all(sources.map((source) => ws.run(['tag', `r/m:${source}`, tag, '--json'])));
    const winner = await digestOf(`r/m:${tag}`);
    expect([v1, v2]).toContain(winner);
    results.forEach((result, i) => {
      const digest = sources[i] === 'v1' ? v1 : v2;
      // A folder creates a tag with link(2): exactly one writer wins, and every writer of the other version exits
      // 5. On S3 servers that do not enforce conditional writes (s3rver; docs/s3.md, "Two writers at once") writers
      // within the same instant are last-writer-wins: there each run either succeeds or exits 5, nothing else.
      if (place.name !== 'local folder') expect([0, 5], result.stderr).toContain(result.code);
      else if (digest === winner) expect(result.code, result.stderr).toBe(0);
      else expect(result.code, result.stdout).toBe(5);
    });
  });
});

describe('index.json follows tag and untag', () => {
  it('lists a new tag and drops an untagged one', async () => {
    const ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo`, packs: true } }));
    try {
      await generateModel(ws.path('v1'), { files: [{ path: 'w.bin', size: 1000 }], seed: 'idx' });
      await ws.json(['push', 'r/m:v1', ws.path('v1')]);
      await ws.json(['tag', 'r/m:v1', 'prod']);
      const index = async () => JSON.parse(await readFile(ws.path('repo', 'index.json'), 'utf8')).models.m.tags;
      expect(Object.keys(await index()).sort()).toEqual(['latest', 'prod', 'v1']);
      await ws.json(['untag', 'r/m:prod']);
      expect(Object.keys(await index()).sort()).toEqual(['latest', 'v1']);
    } finally {
      await ws.cleanup();
    }
  });
});
