import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { createWorkspace, expectUserError, type Workspace } from '../helpers/cli.js';
import { takenPort } from '../helpers/thrown.js';

// `aim config` through the real CLI: edits of the aim: section keep the file's comments, every value shows where
// it came from, and the settings reach what they set (a new repository's chunking, aim run's port).

const COMMENTED = `# the team's repositories
repositories:
  team:
    # shared folder on the NAS
    type: local
    path: ./store
aim:
  # tuned for the build box
  serve:
    ctx-size: 4096 # tokens
`;

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace((dir) => ({ team: { type: 'local', path: join(dir, 'store') } }), { KAMIWAZA_BASE_URL: '', KAMIWAZA_BASE_URI: '', KAMIWAZA_API_URL: '' });
});
afterAll(() => ws.cleanup());

describe('aim config', () => {
  it('sets, gets and unsets a setting, keeping comments, and reports each source', async () => {
    await writeFile(ws.config, COMMENTED);
    expect(await ws.json(['config', 'get', 'serve.ctx-size'])).toMatchObject({ value: 4096, source: { kind: 'config', file: ws.config } });
    expect((await ws.json(['config', 'set', 'serve.ports', '8100-8199'])).file).toBe(ws.config);
    const text = await readFile(ws.config, 'utf8');
    for (const comment of ["# the team's repositories", '# shared folder on the NAS', '# tuned for the build box', '# tokens']) expect(text).toContain(comment);
    expect(text).toContain('ports: 8100-8199');

    const listed = await ws.json(['config', 'list'], { env: { AIM_CTX_SIZE: '8192' } });
    const byKey = Object.fromEntries(listed.settings.map((s: { key: string }) => [s.key, s]));
    expect(byKey['serve.ports']).toMatchObject({ value: '8100-8199', source: { kind: 'config', file: ws.config } });
    expect(byKey['serve.ctx-size']).toMatchObject({ value: 8192, source: { kind: 'env', variable: 'AIM_CTX_SIZE' } });
    expect(byKey['log.level']).toMatchObject({ value: 'warn', source: { kind: 'default' } });

    const info = await ws.json(['info']);
    expect(info.settings.find((s: { key: string }) => s.key === 'serve.ports')).toMatchObject({ from: `config ${ws.config}` });

    await ws.json(['config', 'unset', 'serve.ports']);
    await ws.json(['config', 'unset', 'serve.ctx-size']);
    const after = await readFile(ws.config, 'utf8');
    expect(after).not.toContain('ports:');
    expect(after).not.toMatch(/^aim:/m); // the emptied section goes too
    expect(after).toContain('# shared folder on the NAS');
  });

  it('says when a variable in this shell overrides what was just set', async () => {
    const result = await ws.run(['config', 'set', 'serve.threads', '2', '--json'], { env: { AIM_THREADS: '3' } });
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ key: 'serve.threads', value: 2, file: ws.config });
    expect(result.stderr).toBe('aim: warning: env AIM_THREADS overrides serve.threads in this shell\n');
    await ws.json(['config', 'unset', 'serve.threads']);
  });

  it('refuses a bad value or an unknown key, writing nothing', async () => {
    const before = await readFile(ws.config, 'utf8');
    expect(expectUserError(await ws.run(['config', 'set', 'serve.threads', 'many']))).toContain('serve.threads must be a whole number');
    expect(expectUserError(await ws.run(['config', 'set', 'serve.thread', '2']))).toContain('unknown setting serve.thread');
    expect(await readFile(ws.config, 'utf8')).toBe(before);
  });

  it('names a bad value in the aim: section of the file, and still lets it be fixed', async () => {
    const before = await readFile(ws.config, 'utf8');
    await writeFile(ws.config, `${before}aim:\n  serve:\n    threads: lots\n`);
    expect(expectUserError(await ws.run(['config', 'list']))).toContain(`${ws.config}: aim.serve.threads must be a whole number`);
    await ws.json(['config', 'set', 'serve.threads', '2']);
    expect(await ws.json(['config', 'get', 'serve.threads'])).toMatchObject({ value: 2 });
    await writeFile(ws.config, before);
  });
});

describe('settings reach what they set', () => {
  it("a new repository's chunking: flag over env over config", async () => {
    await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 3 });
    const chunking = async (repo: string) => JSON.parse(await readFile(ws.path(repo, 'aim-repo.json'), 'utf8')).chunking;
    for (const repo of ['a', 'b', 'c']) await mkdir(ws.path(repo));
    await writeFile(ws.config, `repositories:\n  a: {type: local, path: ./a}\n  b: {type: local, path: ./b}\n  c: {type: local, path: ./c}\naim:\n  chunking:\n    avg: 1MiB\n`);
    await ws.json(['push', 'a/tiny:v1', ws.path('src')]);
    expect(await chunking('a')).toMatchObject({ avgSize: 1024 * 1024, minSize: 128 * 1024, maxSize: 2 * 1024 * 1024 });
    await ws.json(['push', 'b/tiny:v1', ws.path('src')], { env: { AIM_CHUNK_AVG: '768KiB' } });
    expect((await chunking('b')).avgSize).toBe(768 * 1024);
    await ws.json(['push', 'c/tiny:v1', ws.path('src'), '--chunk-avg', '256KiB', '--chunk-max', '1MiB'], { env: { AIM_CHUNK_AVG: '768KiB' } });
    expect(await chunking('c')).toMatchObject({ avgSize: 256 * 1024, maxSize: 1024 * 1024, head: { maxSize: 512 * 1024 } });
    // The version pulls back whole: the chunker cut it with the recorded sizes.
    await ws.json(['pull', 'c/tiny:v1', ws.path('back')]);
  });
});

describe('aim run --port', () => {
  let taken: number;
  let release: () => Promise<void>;
  beforeAll(async () => {
    ({ port: taken, release } = await takenPort());
    await writeFile(ws.config, `repositories:\n  team: {type: local, path: ./store}\n`);
    await writeTinyGgufInto(ws.path('src'), { quant: 'q8_0', seed: 3 });
    await ws.json(['push', 'team/tiny:v1', ws.path('src')]);
  });
  afterAll(() => release());

  it('refuses a taken port at once, before pulling or starting anything', async () => {
    const line = expectUserError(await ws.run(['run', 'team/tiny:v1', '--port', String(taken)]), /already in use/);
    expect(line).toContain(`port ${taken} on 127.0.0.1`);
    expect(existsSync(join(ws.home, 'models'))).toBe(false);
    expect(existsSync(join(ws.home, 'deployments', 'tiny.json'))).toBe(false);
  });

  it('refuses the taken port when AIM_PORTS or the config names it', async () => {
    expectUserError(await ws.run(['run', 'team/tiny:v1'], { env: { AIM_PORTS: String(taken) } }), /already in use/);
    await ws.json(['config', 'set', 'serve.ports', String(taken)]);
    expectUserError(await ws.run(['run', 'team/tiny:v1']), /already in use/);
    expect(existsSync(join(ws.home, 'models'))).toBe(false);
  });
});
