// The conventions scripts and people rely on, through the built CLI: usage errors on stderr as one line with the
// likely command and exit 2, `--json` as one document on stdout even for a failure, one exit code per class of
// failure, -V and -c, no colour off a terminal or with NO_COLOR, value names in help, and shell completion.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { writeTinyGgufInto } from '../../fixtures/tiny-gguf.js';
import { withSilentS3 } from '../helpers/silent-s3.js';
import { CLI_PATH, createWorkspace, expectUserError, signalWhen, type CliResult, type Workspace } from '../helpers/cli.js';

const run = promisify(execFile);
const ESC = '\x1b';

/** A usage error: exit 2, nothing on stdout, one `aim: error:` line and a hint on stderr, no usage dump. */
function expectUsageError(result: CliResult, message: RegExp, hint: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expectUserError(result, message);
  expect(result.stderr).toMatch(hint);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(2);
  expect(result.stderr).not.toContain(ESC);
}

describe('CLI conventions', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: [{ path: 'weights.bin', size: 2 * 1024 * 1024 }], seed: 'conventions' });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(async () => {
    await ws.cleanup();
  });

  it('an unknown command is one line on stderr with the closest command, exit 2', async () => {
    expectUsageError(await ws.run(['pussh', 'r/m:v1', 'model']), /unknown command `pussh`/, /hint: did you mean `aim push`\? run `aim --help`/);
    expectUsageError(await ws.run(['model', 'pul', 'r', 'm', 'out']), /unknown command `model pul`/, /did you mean `aim model pull`\?/);
    expectUsageError(await ws.run(['zzzzzz']), /unknown command `zzzzzz`/, /hint: run `aim --help` to see every command/);
  });

  it('an unknown option, a missing argument and a bad value are usage errors (exit 2), not exit 1', async () => {
    expectUsageError(await ws.run(['push', '--forse', 'r/m:v1', 'model']), /unknown option --forse for `aim push`/, /did you mean `--force`\? run `aim push --help`/);
    expectUsageError(await ws.run(['push', 'r/m:v1']), /`aim push` is missing an argument: aim push REPO\/MODEL\[:TAG\] DIR/, /run `aim push --help`/);
    expectUsageError(await ws.run(['verify', 'r', '--concurrency', 'many']), /--concurrency/, /run `aim verify --help`/);
    expectUsageError(await ws.run(['inspect', 'r/m:v1', 'extra']), /unexpected argument "extra" for `aim inspect`/, /run `aim inspect --help`/);
  });

  it('--json makes every failure one JSON document on stdout, usage errors too', async () => {
    const missing = await ws.run(['pull', 'r/m:v9', 'out', '--json']);
    expect(missing.code).toBe(3);
    expect(missing.json()).toEqual({ error: { code: 'not_found', exitCode: 3, message: expect.stringMatching(/v9/), hint: expect.any(String) } });
    const usage = await ws.run(['push', '--forse', 'r/m:v1', 'model', '--json']);
    expect(usage.code).toBe(2);
    expect(usage.json()).toEqual({ error: { code: 'usage', exitCode: 2, message: 'unknown option --forse for `aim push`', hint: expect.stringMatching(/--force/) } });
    const unknown = await ws.run(['pussh', '--json']);
    expect(unknown.json().error).toMatchObject({ code: 'usage', exitCode: 2 });
    const config = await ws.run(['repo', 'list', '--json', '-c', ws.path('no-such.yaml')]);
    expect(config.json().error).toMatchObject({ code: 'config', exitCode: 7, message: expect.stringContaining('no-such.yaml') });
  });

  it('conflict (5), storage (6) and engine (8) failures exit with their codes', async () => {
    await generateModel(ws.path('other'), { files: [{ path: 'weights.bin', size: 1024 }], seed: 'other' });
    const conflict = await ws.run(['push', 'r/m:v1', 'other', '--json']);
    expect(conflict.code).toBe(5);
    expect(conflict.json().error.code).toBe('conflict');

    await writeFile(ws.path('s3.yaml'), 'repositories:\n  s:\n    type: s3\n    path: s3://bucket/p\n    region: us-east-1\n    endpoint: http://127.0.0.1:1\n');
    const s3env = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AIM_S3_MAX_ATTEMPTS: '1' };
    const storage = await ws.run(['model', 'list', 's', '-c', ws.path('s3.yaml'), '--json'], { env: s3env });
    expect(storage.code, storage.stderr).toBe(6);
    expect(storage.json().error.code).toBe('storage');

    await writeTinyGgufInto(ws.path('gguf'), { quant: 'q8_0' });
    await ws.json(['push', 'r/tiny:v1', 'gguf']);
    const engine = await ws.run(['run', 'r/tiny:v1', '--engine', 'kamiwaza', '--json'], { env: { KAMIWAZA_BASE_URL: 'http://127.0.0.1:1' } });
    expect(engine.code, engine.stderr).toBe(8);
    expect(engine.json().error.code).toBe('engine');
  });

  it('SIGTERM under --json: the interrupted document on stdout, and the process ends by the signal (143)', async () => {
    await withSilentS3(ws, async (config, connected) => {
      const running = ws.start(['model', 'list', 's', '-c', config, '--json'], { env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } });
      const result = await signalWhen(running, async () => connected(), 'SIGTERM');
      expect(result.signal).toBe('SIGTERM');
      expect(result.json()).toEqual({ error: { code: 'interrupted', exitCode: 143, message: expect.any(String), hint: expect.any(String) } });
    });
  });

  it('a command left waiting on nothing (a bug) ends with exit 70 and one line, not exit 0 and silence', async () => {
    const env = { AIM_TEST_COMMAND_NEVER_ENDS: '1' };
    const plain = await ws.run(['repo', 'list'], { env });
    expect(plain.code).toBe(70);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toBe(
      'aim: internal error: the command stopped before it finished: nothing was left to wait for (a bug)\n  hint: run again with -v, and report it with what you ran\n',
    );
    const json = await ws.run(['repo', 'list', '--json'], { env });
    expect(json.code).toBe(70);
    expect(json.json()).toEqual({ error: { code: 'internal', exitCode: 70, message: expect.stringMatching(/nothing was left to wait for/), hint: expect.any(String) } });
  });

  it('a group word alone asks for a subcommand; with --help it lists them', async () => {
    expectUsageError(await ws.run(['model']), /`aim model` needs a subcommand: push, pull, list, .*delete/, /run `aim model --help`/);
    const help = await ws.run(['model', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}aim model push REPO MODEL DIR +push a folder/m);
    expect(help.stdout).toMatch(/^ {2}aim model pull REPO MODEL DEST +download/m);
  });

  it('-V and --version print the version; -v alone is verbose, not the version', async () => {
    const version = (await ws.run(['-V'])).stdout.trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect((await ws.run(['--version'])).stdout.trim()).toBe(version);
    const verbose = await ws.run(['-v']);
    expect(verbose.stdout).not.toBe(`${version}\n`);
  });

  it('-c is --config, before or after the command; a --config file that does not exist is a config error naming it', async () => {
    const elsewhere = ws.path('elsewhere.yaml');
    await writeFile(elsewhere, `repositories:\n  other:\n    type: local\n    path: ${ws.path('other-repo')}\n`);
    const names = (result: { repositories: Array<{ name: string }> }) => result.repositories.map(({ name }) => name);
    expect(names(await ws.json(['-c', elsewhere, 'repo', 'list']))).toEqual(['other']);
    expect(names(await ws.json(['repo', 'list', '-c', elsewhere]))).toEqual(['other']);
    const missing = await ws.run(['repo', 'list', '--config', ws.path('typo.yaml')]);
    expect(missing.code).toBe(7);
    expectUserError(missing, /config file .*typo\.yaml \(--config\) does not exist/);
    // The one command that writes the file may name a new one.
    const created = await ws.json(['repo', 'create', 'fresh', '--type', 'local', '--path', ws.path('fresh'), '-c', ws.path('new.yaml')]);
    expect(created.config).toBe(ws.path('new.yaml'));
  });

  it('help shows value names, not #0, and no escape codes in a pipe even without NO_COLOR', async () => {
    const help = await ws.run(['push', '--help'], { env: { NO_COLOR: '' } });
    expect(help.code).toBe(0);
    expect(help.stdout).not.toContain(ESC);
    expect(help.stdout).not.toMatch(/#\d/);
    expect(help.stdout).toMatch(/--concurrency N\s/);
    expect(help.stdout).toMatch(/-c,--config FILE\s/);
    const all = await ws.run(['--help'], { env: { NO_COLOR: '' } });
    expect(all.stdout).not.toContain(ESC);
    expect(all.stdout).not.toMatch(/#\d/);
    expect(all.stdout).toMatch(/aim model pull .*--tag TAG/);
  });

  it('on a terminal, help is coloured unless NO_COLOR is set', async () => {
    // script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    const onTty = (env: NodeJS.ProcessEnv) => run('script', ['-qec', `${process.execPath} ${CLI_PATH} push --help`, '/dev/null'], { env: { ...process.env, ...env } });
    expect((await onTty({ NO_COLOR: '' })).stdout).toContain(ESC);
    expect((await onTty({ NO_COLOR: '1' })).stdout).not.toContain(ESC);
  });

  it('prints a bash completion script that completes commands, subcommands and options', async () => {
    const script = (await ws.run(['completion', 'bash'])).stdout;
    const complete = async (words: string[]): Promise<string[]> => {
      const line = `COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _aim; echo "\${COMPREPLY[*]}"`;
      const { stdout } = await run('bash', ['-c', `source /dev/stdin <<'EOF'\n${script}EOF\n${line}`]);
      return stdout.trim().split(' ').filter(Boolean).sort();
    };
    const { stdout } = await run('bash', ['-c', `source <(${process.execPath} ${CLI_PATH} completion bash); complete -p aim`]);
    expect(stdout).toMatch(/complete .*-F _aim aim/);
    expect(await complete(['aim', ''])).toEqual(expect.arrayContaining(['completion', 'info', 'inspect', 'model', 'ps', 'pull', 'push', 'repo', 'run', 'stop', 'verify']));
    expect(await complete(['aim', 'model', 'p'])).toEqual(['pull', 'push']);
    expect(await complete(['aim', 'repo', ''])).toEqual(expect.arrayContaining(['create', 'delete', 'list', 'upgrade']));
    expect(await complete(['aim', 'push', 'r/m:v1', '--f'])).toEqual(['--force']);
    expect(await complete(['aim', 'model', 'pull', '--t'])).toEqual(['--tag']);
    const zsh = (await ws.run(['completion', 'zsh'])).stdout;
    expect(zsh).toMatch(/^#compdef aim\n/);
    expect(zsh).toMatch(/compadd -- .*\bpush\b/);
    expect(zsh).toMatch(/"model push"\) echo ".*--force/);
    expectUsageError(await ws.run(['completion', 'fish']), /no completion for shell "fish"/, /aim completion bash/);
  });
});
