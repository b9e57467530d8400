// What a hurried user types, through the built CLI: an unset shell variable as a path, the words other tools use
// for a command, a short flag aim does not have. Each is one usage line (exit 2) saying what to type instead, and
// nothing is read, written or pushed on the way.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { withSilentS3 } from '../helpers/silent-s3.js';
import { createWorkspace, expectUserError, signalWhen, type CliResult, type Workspace } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';

function expectUsage(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expectUserError(result, message);
}

describe('clumsy input', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 64 * 1024 }], seed: 'clumsy' });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(async () => {
    await ws.cleanup();
  });

  it('an empty path ("$DIR" unset) is a usage error, never the current folder', async () => {
    const before = (await readdir(ws.dir)).sort();
    expectUsage(await ws.run(['push', 'r/m:v2', '']), /Invalid value for DIR: expected a path, got an empty string/);
    expectUsage(await ws.run(['model', 'push', 'r', 'm', '', '--tag', 'v2']), /Invalid value for DIR/);
    expectUsage(await ws.run(['pull', 'r/m:v1', '']), /Invalid value for DEST/);
    expectUsage(await ws.run(['model', 'pull', 'r', 'm', '']), /Invalid value for DEST/);
    expectUsage(await ws.run(['export', 'r/m:v1', '-o', '']), /Invalid value for -o/);
    expectUsage(await ws.run(['import', '', 'r/imported:v1']), /Invalid value for FILE\.tar\|DIR\|-/);
    expectUsage(await ws.run(['key', 'generate', '']), /Invalid value for NAME/);
    expectUsage(await ws.run(['key', 'generate', 'keys/']), /key name keys\/ ends in a folder, not a name/);
    expectUsage(await ws.run(['key', 'generate', '.']), /key name \. ends in a folder/);
    expectUsage(await ws.run(['sign', 'r/m:v1', '--key', '']), /Invalid value for --key/);
    expectUsage(await ws.run(['push', 'r/m:v2', 'model', '--sign', '--key', '']), /Invalid value for --key/);
    expectUsage(await ws.run(['trust', 'add', 'r', '', '--name', 'alice']), /Invalid value for FILE\.pub/);
    expectUsage(await ws.run(['pull', 'r/m:v1', '-']), /Invalid value for DEST: "-" \(standard input or output\) names no folder here/);
    expectUsage(await ws.run(['push', 'r/m:v2', '-']), /Invalid value for DIR: "-"/);
    // Nothing was pulled into, or keys written to, the current folder; no version was pushed from it.
    expect((await readdir(ws.dir)).sort()).toEqual(before);
    const versions = await ws.json<{ versions: Array<{ tag: string }> }>(['model', 'versions', 'r', 'm']);
    expect(versions.versions.map(({ tag }) => tag).sort()).toEqual(['latest', 'v1']);
  });

  it('--json still prints the one error document for an empty path', async () => {
    const result = await ws.run(['pull', 'r/m:v1', '', '--json']);
    expect(result.code).toBe(2);
    expect(result.json().error).toMatchObject({ code: 'usage', exitCode: 2, message: expect.stringMatching(/DEST/) });
  });

  it("another tool's word for a command suggests aim's, not the nearest spelling", async () => {
    const cases: Array<[string[], string]> = [
      [['show', 'r/m:v1'], 'inspect'], // ollama show; by spelling it was `aim stop`
      [['cp', 'r/m:v1', 'r'], 'copy'], // by spelling it was `aim mcp`
      [['download', 'r/m:v1', 'out'], 'pull'],
      [['serve', 'r/m:v1'], 'run'],
      [['check', 'r'], 'verify'],
      [['version'], '--version'],
      [['repo', 'add', 'x'], 'repo create'],
      [['model', 'rm', 'r', 'm'], 'model delete'],
    ];
    for (const [args, meant] of cases) {
      const result = await ws.run(args);
      expectUsage(result, /unknown command/);
      expect(result.stderr).toContain(`did you mean \`aim ${meant}\`?`);
    }
  });

  it("a word that names a member of JavaScript's Object is an unknown command, not a crash", async () => {
    for (const args of [['constructor'], ['__proto__'], ['toString', '--json'], ['model', 'constructor']]) {
      expectUsage(await ws.run(args), /unknown command `(model )?(constructor|__proto__|toString)`/);
    }
  });

  it('a short flag aim lacks suggests the long option with its letter, and a missing required option is named', async () => {
    const tag = await ws.run(['model', 'push', 'r', 'm', 'model', '-t', 'v2']);
    expectUsage(tag, /unknown option -t for `aim model push`/);
    expect(tag.stderr).toContain('did you mean `--tag`?');
    const short = await ws.run(['push', 'r/m', 'model', '--tag', 'v2']);
    expectUsage(short, /unknown option --tag for `aim push`: the tag goes in the reference/);
    expect(short.stderr).toMatch(/hint: write REPO\/MODEL:TAG/);
    const repo = await ws.run(['list', '-r', 'r']);
    expect(repo.stderr).toContain('did you mean `--repo`?');
    expectUsage(await ws.run(['sign', 'r/m:v1']), /`aim sign` needs --key KEY$/);
    expectUsage(await ws.run(['export', 'r/m:v1']), /`aim export` needs --output OUTPUT$/);
    expectUsage(await ws.run(['model', 'delete-version', 'r', 'm']), /`aim model delete-version` needs --tag TAG$/);
    expectUsage(await ws.run(['trust', 'add', 'r', 'alice.pub']), /`aim trust add` needs --name NAME$/);
    // `ollama pull MODEL` takes no folder: the hint names what does that here.
    const pull = await ws.run(['pull', 'r/m:v1']);
    expectUsage(pull, /`aim pull` is missing an argument/);
    expect(pull.stderr).toMatch(/hint: .*use `aim install REPO\/MODEL\[:TAG\]`; run `aim pull --help`/);
  });

  it('a bad value for repo create is a usage error (exit 2) like --type ftp, not a broken configuration (7)', async () => {
    expectUsage(await ws.run(['repo', 'create', 's', '--type', 's3', '--path', 'not-a-url']), /cannot add repository s .*path must look like s3:\/\/bucket\/prefix/);
    expectUsage(await ws.run(['repo', 'create', 'e', '--path', '']), /cannot add repository e .*path is missing/);
    expectUsage(await ws.run(['repo', 'create', 'f', '--type', 'ftp', '--path', 'x']), /--type ftp is not supported/);
    const repos = await ws.json<{ repositories: Array<{ name: string }> }>(['repo', 'list']);
    expect(repos.repositories.map(({ name }) => name)).toEqual(['r']);
  });

  it('repo create refuses an option its --type does not take, instead of leaving it out of the file', async () => {
    const before = await readFile(ws.config, 'utf8');
    // --path for a published repository (the folder on the web server's disk): its address is --url.
    expectUsage(await ws.run(['repo', 'create', 'web', '--type', 'http', '--path', '/srv/www/repo']), /--type http takes no --path \(it is for --type local and s3\)$/);
    expectUsage(await ws.run(['repo', 'create', 'web', '--type', 'http', '--url', 'https://models.example.com/repo/', '--path', '/srv/www/repo']), /--type http takes no --path/);
    expectUsage(await ws.run(['repo', 'create', 'web', '--type', 'http', '--url', 'https://models.example.com/repo/', '--no-packs']), /--type http takes no --no-packs/);
    expectUsage(await ws.run(['repo', 'create', 'nfs', '--path', ws.path('nfs'), '--region', 'eu-west-1']), /--type local takes no --region \(it is for --type s3\)$/);
    expectUsage(await ws.run(['repo', 'create', 'nfs', '--path', ws.path('nfs'), '--url', 'https://x.example/']), /--type local takes no --url \(it is for --type http\)$/);
    expect(await readFile(ws.config, 'utf8')).toBe(before);
  });

  it('completion --json prints one JSON document holding the script, not the bare script', async () => {
    const plain = await ws.run(['completion', 'bash']);
    const document = await ws.json<{ shell: string; script: string }>(['completion', 'bash']);
    expect(document).toEqual({ shell: 'bash', script: plain.stdout });
  });

  it('pulling into a file (DEST and DIR swapped, say) names the file, exit 6, not an internal error', async () => {
    await writeFile(ws.path('notes.txt'), 'mine\n');
    const result = await ws.run(['pull', 'r/m:v1', 'notes.txt', '--json']);
    expect(result.code, result.stderr).toBe(6);
    expectUserError(result, /notes\.txt exists and is not a folder/);
    expect(result.json().error).toMatchObject({ code: 'storage', exitCode: 6 });
    expect(await readFile(ws.path('notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('export -o onto a device, a FIFO or a link (-o /dev/stdout) is refused: its rename would replace them', async () => {
    await symlink('/dev/null', ws.path('stdout-like'));
    execFileSync('mkfifo', [ws.path('fifo')]);
    for (const name of ['stdout-like', 'fifo']) {
      const result = await ws.run(['export', 'r/m:v1', '-o', name]);
      expectUsage(result, new RegExp(`${name} is a (link|FIFO), not a file`));
      expect(result.stderr).toContain('-o -');
    }
    expect(await readlink(ws.path('stdout-like'))).toBe('/dev/null');
    expect((await lstat(ws.path('fifo'))).isFIFO()).toBe(true);
    // A regular file is still replaced, as before.
    await writeFile(ws.path('old.tar'), 'old');
    await ws.json(['export', 'r/m:v1', '-o', 'old.tar']);
    expect((await readFile(ws.path('old.tar'))).subarray(0, 10).toString()).toBe('oci-layout');
  });

  it('a short digest names its version: copy copies that one, not latest; push, import and untag refuse it (exit 2)', async () => {
    const two = ws.path('two.yaml');
    await mkdir(ws.path('backup'));
    await writeFile(two, `repositories:\n  r: {type: local, path: ${ws.path('repo')}}\n  backup: {type: local, path: ${ws.path('backup')}}\n`);
    await generateModel(ws.path('model2'), { files: [{ path: 'weights.bin', size: 32 * 1024 }], seed: 'clumsy-2' });
    const old = (await ws.json<{ digest: string }>(['push', 'r/pinned:v1', 'model'])).digest;
    await ws.json(['push', 'r/pinned:v2', 'model2']); // latest now names v2
    const short = old.slice('blake3:'.length, 'blake3:'.length + 12);
    const copied = await ws.json<{ versions: Array<{ digest: string }> }>(['copy', `r/pinned@${short}`, 'backup/pinned:old', '-c', two]);
    expect(copied.versions.map((v) => v.digest)).toEqual([old]);
    expectUsage(await ws.run(['copy', `r/pinned@${short}`, 'backup', '-c', two]), new RegExp(`copying ${old} needs a tag at the destination`));
    expectUsage(await ws.run(['push', `r/pinned@${short}`, 'model']), /push takes a tag, not a digest/);
    expectUsage(await ws.run(['import', 'layout.tar', `r/pinned@${short}`]), /import takes a tag, not a digest/);
    expectUsage(await ws.run(['untag', `r/pinned@blake3:${short}`]), /untag needs a tag/);
  });

  it('with JSON log lines, a command line that does not parse is one JSON event on stderr too', async () => {
    for (const [args, env] of [
      [['pussh', 'r/m:v1', '--log-format', 'json'], {}],
      [['push', 'r/m:v1', '', '--log-format=json'], {}],
      [['push', '-x'], { AIM_LOG_FORMAT: 'json' }],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const result = await ws.run(args, { env });
      expect(result.code).toBe(2);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', event: 'command failed', code: 'usage', exitCode: 2 });
    }
  });

  it('with JSON log lines, Ctrl-C is one interrupted event on stderr, not a text line', async () => {
    await withSilentS3(ws, async (config, connected) => {
      const running = ws.start(['model', 'list', 's', '-c', config, '--log-format', 'json'], { env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } });
      const result = await signalWhen(running, async () => connected(), 'SIGINT');
      expect(result.signal).toBe('SIGINT');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', event: 'command failed', code: 'interrupted', exitCode: 130 });
    });
  });

  it('verify NAME where NAME is a pulled folder, not a repository, says to write ./NAME', async () => {
    await ws.json(['pull', 'r/m:v1', 'pulled']);
    const result = await ws.run(['verify', 'pulled']);
    expect(result.code).toBe(3);
    expectUserError(result, /repository "pulled" is not in .*; pulled here is a folder aim pulled into/);
    expect(result.stderr).toContain('aim verify ./pulled');
    expect((await ws.json<{ ok: boolean }>(['verify', './pulled'])).ok).toBe(true);
  });

  it('export -o - on a terminal is refused (as docker save does), not a tar drawn on the screen', async () => {
    const { code, output } = await runInPty(['export', 'r/m:v1', '-o', '-'], [], ws.env, ws.dir);
    expect(code).toBe(2);
    expect(output).toMatch(/aim: error: -o - writes the tar to standard output, which is a terminal here/);
    expect(output).not.toContain('oci-layout');
  });

  it('import - with a terminal for standard input is refused, not a wait for ever', async () => {
    const { code, output } = await runInPty(['import', '-', 'r/typed:v1'], [], ws.env, ws.dir);
    expect(code).toBe(2);
    expect(output).toMatch(/aim: error: - reads the tar from standard input, which is a terminal here/);
  });

  it('repo create --path=~/models (which no shell expands) means the home folder, not a folder named "~"', async () => {
    const home = ws.path('home');
    await mkdir(home);
    const config = ws.path('tilde.yaml');
    await ws.json(['repo', 'create', 'mine', '--type', 'local', '--path=~/models', '-c', config], { env: { HOME: home } });
    expect((await stat(ws.path('home', 'models'))).isDirectory()).toBe(true);
    expect(await lstat(ws.path('~')).catch(() => undefined)).toBeUndefined();
    expect(await readFile(config, 'utf8')).toMatch(/path: ~\/models/);
    const repos = await ws.json<{ repositories: Array<{ name: string; path: string }> }>(['repo', 'list', '-c', config], { env: { HOME: home } });
    expect(repos.repositories).toMatchObject([{ name: 'mine', path: ws.path('home', 'models') }]);
  });

  it('tag with the repository repeated in NEW_TAG (docker tag habit) says how to write it, or to copy', async () => {
    const same = await ws.run(['tag', 'r/m:v1', 'r/m:stable']);
    expectUsage(same, /NEW_TAG r\/m:stable names a repository: a tag stays in r/);
    expect(same.stderr).toContain('aim tag r/m:v1 m:stable');
    const other = await ws.run(['tag', 'r/m:v1', 'backup/m:stable']);
    expect(other.stderr).toContain('aim copy r/m:v1 backup/m:stable');
  });

  it('rm and update take the short digest aim installed prints, as every other command does', async () => {
    const digest = (await ws.json<{ versions: Array<{ tag: string; digest: string }> }>(['model', 'versions', 'r', 'm'])).versions.find((v) => v.tag === 'v1')!.digest;
    const pinned = `r/m@${digest.slice(7, 19)}`;
    await ws.json(['install', pinned]);
    expect((await ws.json<{ updates: Array<{ status: string }> }>(['update', pinned])).updates).toMatchObject([{ status: expect.stringMatching(/pinned|up to date/) }]);
    await ws.json(['rm', pinned]);
    expect((await ws.json<{ models: unknown[] }>(['installed'])).models).toEqual([]);
  });
});
