// Logs on stderr with named events (-v, -vv, --log-format json, AIM_LOG), stdout untouched by them; a push to an
// existing tag refused before anything is stored; and summaries that add up.
import { readdir, readFile, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, type CliResult, type Workspace } from '../helpers/cli.js';

const MiB = 1024 * 1024;

interface LogLine {
  time: string;
  level: string;
  event: string;
  [field: string]: unknown;
}

/** Every stderr line parsed as JSON (the test fails on one that is not). */
function logLines(result: CliResult): LogLine[] {
  return result.stderr
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`stderr line is not JSON: ${line}\nstderr: ${result.stderr}`);
      }
    });
}

const events = (lines: LogLine[]): string[] => [...new Set(lines.map((line) => line.event))];
const withoutTime = ({ seconds: _seconds, dest: _dest, ...rest }: Record<string, unknown>) => rest;

describe('logs, refusals before upload, and summaries', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'config.json', size: 300 }], seed: 'logs' });
  });
  afterAll(async () => {
    await ws.cleanup();
  });

  it('--log-format json -vv: every stderr line is a JSON event, with the named events; stdout is the same as without', async () => {
    const push = await ws.run(['push', 'r/m:v1', 'model', '--json', '--log-format', 'json', '-vv']);
    expect(push.code, push.stderr).toBe(0);
    const pushed = logLines(push);
    expect(events(pushed)).toEqual(expect.arrayContaining(['push started', 'chunk stored', 'pack written', 'push complete']));
    expect(pushed.every((line) => !Number.isNaN(Date.parse(line.time)) && ['info', 'debug', 'trace'].includes(line.level))).toBe(true);
    expect(pushed.find((line) => line.event === 'push complete')).toMatchObject({ bytes: 3 * MiB + 300, transferred: 3 * MiB + 300, seconds: expect.any(Number) });
    expect(pushed.find((line) => line.event === 'chunk stored')).toMatchObject({ level: 'trace', digest: expect.stringMatching(/^blake3:/) });

    const quiet = await ws.run(['pull', 'r/m:v1', 'out-quiet', '--json']);
    const logged = await ws.run(['pull', 'r/m:v1', 'out-logged', '--json', '--log-format', 'json', '-v']);
    expect(quiet.stderr).toBe('');
    expect(events(logLines(logged))).toEqual(['pull started', 'pull complete']);
    expect(logLines(logged)[1]).toMatchObject({ level: 'info', bytes: 3 * MiB + 300, transferred: 3 * MiB + 300, seconds: expect.any(Number) });
    expect(withoutTime(logged.json())).toEqual(withoutTime(quiet.json()));

    const plain = await ws.run(['verify', 'r', '-q']);
    const verbose = await ws.run(['verify', 'r', '-q', '-vv', '--log-format', 'json']);
    expect(verbose.stdout).toBe(plain.stdout);
    expect(plain.stderr).toBe('');
    expect(events(logLines(verbose))).toEqual(['version verified', 'verify complete']);
  });

  it('AIM_LOG and AIM_LOG_FORMAT set the same from the environment; text lines are one per event', async () => {
    const fromEnv = await ws.run(['pull', 'r/m:v1', 'out-env', '--json'], { env: { AIM_LOG: 'info', AIM_LOG_FORMAT: 'json' } });
    expect(events(logLines(fromEnv))).toEqual(['pull started', 'pull complete']);
    const text = await ws.run(['pull', 'r/m:v1', 'out-text', '--json', '-v']);
    const lines = text.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z info pull complete repo=r .*bytes=3146028 .*seconds=[\d.]+/);
  });

  it('the config file\'s aim.log section sets level and format; the environment and -v still win', async () => {
    const config = ws.path('logging.yaml');
    await writeFile(config, `${await readFile(ws.config, 'utf8')}aim:\n  log:\n    level: info\n    format: json\n`);
    const configured = await ws.run(['pull', 'r/m:v1', 'out-configured', '--json'], { env: { AIM_CONFIG: config } });
    expect(events(logLines(configured))).toEqual(['pull started', 'pull complete']);
    const quieter = await ws.run(['pull', 'r/m:v1', 'out-quieter', '--json'], { env: { AIM_CONFIG: config, AIM_LOG: 'warn' } });
    expect(quieter.stderr).toBe('');
    const louder = await ws.run(['pull', 'r/m:v1', 'out-louder', '--json', '--log-format', 'text', '-v'], { env: { AIM_CONFIG: config } });
    expect(louder.stderr).toMatch(/^\S+Z info pull started /);
  });

  it('logs a retried S3 request with its cause and attempt', async () => {
    await writeFile(ws.path('s3.yaml'), 'repositories:\n  s:\n    type: s3\n    path: s3://bucket/p\n    region: us-east-1\n    endpoint: http://127.0.0.1:1\n');
    const env = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AIM_S3_MAX_ATTEMPTS: '3', AIM_S3_RETRY_BASE_MS: '1' };
    const result = await ws.run(['model', 'list', 's', '-c', ws.path('s3.yaml'), '--json', '--log-format', 'json', '-v'], { env });
    expect(result.code).toBe(6);
    const retries = logLines(result).filter((line) => line.event === 'request retried');
    expect(retries.map((line) => [line.cause, line.attempt])).toEqual([['ECONNREFUSED', 2], ['ECONNREFUSED', 3]]);
  });

  it('a push of other content to an existing tag is refused before any pack, index or manifest is written', async () => {
    const stats = ws.path('io.json');
    const refusedPush = async (folder: string): Promise<Record<string, number>> => {
      const result = await ws.run(['push', 'r/m:v1', folder, '--json'], { env: { AIM_IO_STATS: stats } });
      expect(result.code, result.stderr).toBe(5);
      expect(result.json().error.message).toMatch(/tag v1 of r\/m already names other content/);
      return JSON.parse(await readFile(stats, 'utf8')).bytesWritten;
    };
    // Same names and sizes, other bytes: refused at the first chunk.
    await generateModel(ws.path('other'), { files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'config.json', size: 300 }], seed: 'other' });
    expect(await refusedPush('other')).toEqual({});
    // The first 2 MiB the same, the last byte changed: refused at the chunk that differs, after storing nothing.
    await generateModel(ws.path('late'), { files: [{ path: 'weights.bin', size: 3 * MiB }, { path: 'config.json', size: 300 }], seed: 'logs' });
    const handle = await open(ws.path('late', 'weights.bin'), 'r+');
    await handle.write(Buffer.from([0x5a]), 0, 1, 3 * MiB - 1);
    await handle.close();
    expect(await refusedPush('late')).toEqual({});
    // Another file list: refused before reading a file.
    await generateModel(ws.path('more'), { files: [{ path: 'weights.bin', size: 1024 }], seed: 'more' });
    expect(await refusedPush('more')).toEqual({});

    const same = await ws.run(['push', 'r/m:v1', 'model', '--rehash', '--json'], { env: { AIM_IO_STATS: stats } });
    expect(same.json()).toMatchObject({ tagOutcome: 'unchanged', bytesTransferred: 0 });
    // No pack, index file or manifest: only the catalog's refresh, as before the check existed.
    const written = Object.keys(JSON.parse(await readFile(stats, 'utf8')).bytesWritten);
    expect(written.filter((prefix) => ['packs/', 'index/', 'manifests/', 'locations/'].includes(prefix))).toEqual([]);
    expect((await ws.json(['push', 'r/m:v1', 'late', '--force'])).tagOutcome).toBe('moved');
    expect((await ws.json(['push', 'r/m:v1', 'model', '--force'])).tagOutcome).toBe('moved');
  });

  it('summaries add up: versions are distinct manifests, counts take the right plural, no rate when nothing moved', async () => {
    await ws.json(['push', 'r/m:v2', 'model']); // a third tag (v1, latest, v2) naming the same version
    const verified = await ws.json(['verify', 'r', 'm']);
    expect(verified).toMatchObject({ versions: 1, tags: 3, ok: true });
    expect((await ws.run(['verify', 'r', 'm'])).stdout).toMatch(/^r: 1 version, (\d+)\/\1 chunks checked \(3.00 MiB\): all good\n$/);

    const unchanged = await ws.run(['push', 'r/m:v2', 'model']);
    expect(unchanged.stdout).toMatch(/unchanged/);
    expect(unchanged.stdout).toMatch(/^ {2}time {9}\d+\.\d s\n/m);
    expect(unchanged.stdout).not.toMatch(/\/s\)/);

    // Two files of the same bytes are fetched once: the copy counts as skipped, and the sum is the version's size.
    await generateModel(ws.path('dups'), { files: [{ path: 'a.json', size: 300 }], seed: 'dups' });
    await writeFile(ws.path('dups', 'b.json'), await readFile(ws.path('dups', 'a.json')));
    await ws.json(['push', 'r/dups:v1', 'dups']);
    const pulled = await ws.json(['pull', 'r/dups:v1', 'dups-out']);
    expect([pulled.bytesTransferred, pulled.bytesSkipped, pulled.totalBytes]).toEqual([300, 300, 600]);

    // One corrupt chunk is "1 problem", not "1 problems": 3 bytes at the start of every pack (the version's chunks are
    // all in one; the others hold only chunks of content that no tag names any more).
    const packs = join(ws.path('repo'), 'packs');
    const entries = await readdir(packs, { recursive: true, withFileTypes: true });
    for (const pack of entries.filter((entry) => entry.isFile())) {
      const handle = await open(join(pack.parentPath, pack.name), 'r+');
      await handle.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, 100);
      await handle.close();
    }
    const damaged = await ws.run(['verify', 'r', 'm']);
    expect(damaged.code).toBe(4);
    expect(damaged.stdout).toMatch(/: 1 problem\n$/);
    expect(damaged.stderr).toMatch(/aim: error: 1 missing or corrupt object in r\n/);
    // Under --json the report is the one document (not followed by an error document), and the exit still says 4.
    const damagedJson = await ws.run(['verify', 'r', 'm', '--json']);
    expect(damagedJson.code).toBe(4);
    expect(damagedJson.json()).toMatchObject({ ok: false, versions: 1, problems: [{ kind: 'corrupt' }] });
  });
});
