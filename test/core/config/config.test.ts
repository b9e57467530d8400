import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addRepository, removeRepository } from '../../../src/core/config/config-edit.js';
import { findConfigFile, findRepo, loadConfig } from '../../../src/core/config/config.js';
import { ConfigError, ConflictError, NotFoundError } from '../../../src/lib/errors.js';

// Each test builds its fixture folder inline in a fresh temporary folder.

let root: string;
let savedAimConfig: string | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aim-config-'));
  savedAimConfig = process.env.AIM_CONFIG;
  delete process.env.AIM_CONFIG;
});

afterEach(async () => {
  if (savedAimConfig === undefined) delete process.env.AIM_CONFIG;
  else process.env.AIM_CONFIG = savedAimConfig;
  await rm(root, { recursive: true, force: true });
});

async function write(path: string, text: string): Promise<string> {
  const full = join(root, path);
  await mkdir(join(full, '..'), { recursive: true });
  await writeFile(full, text);
  return full;
}

async function failure(promise: Promise<unknown>): Promise<Error & { hint?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a failure');
  return error;
}

const SHARED = `# Team repositories: ask #ml-infra before changing
repositories:
  # the NFS share
  zeta:
    type: local
    path: /mnt/nfs/zeta   # do not move
  alpha:
    type: s3
    path: s3://bucket/alpha
    region: eu-west-1
models:
  tiny: zeta/tiny:v1
`;

describe('config: finding the file', () => {
  it('searches upward from a nested folder and resolves relative local paths against the file, not the cwd', async () => {
    const file = await write('project/model_repos.yaml', 'repositories:\n  mine:\n    type: local\n    path: ./store\n  abs:\n    type: local\n    path: /srv/abs\n');
    const nested = join(root, 'project', 'a', 'b', 'c');
    await mkdir(nested, { recursive: true });
    expect(await findConfigFile({ cwd: nested })).toBe(file);
    const config = await loadConfig({ cwd: nested });
    expect(config.filepath).toBe(file);
    expect(findRepo(config, 'mine')).toMatchObject({ name: 'mine', type: 'local', path: join(root, 'project', 'store') });
    expect(findRepo(config, 'abs').path).toBe('/srv/abs');
  });

  it('falls back to a personal $XDG_CONFIG_HOME/aim/config.yaml when no model_repos.yaml is found upward', async () => {
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = join(root, 'xdg');
    try {
      const personal = await write('xdg/aim/config.yaml', 'repositories:\n  mine: {type: local, path: /srv/mine}\n');
      await mkdir(join(root, 'elsewhere'));
      const config = await loadConfig({ cwd: join(root, 'elsewhere') });
      expect(config.filepath).toBe(personal);
      expect(findRepo(config, 'mine').path).toBe('/srv/mine');
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
  });

  it('puts a local path starting with ~/ under the home folder, as a shell would, not in a folder named "~"', async () => {
    const file = await write('team/model_repos.yaml', 'repositories:\n  home:\n    type: local\n    path: ~/models\n  rel:\n    type: local\n    path: ./~x\n');
    const config = await loadConfig({ explicitPath: file });
    expect(findRepo(config, 'home').path).toBe(join(homedir(), 'models'));
    expect(findRepo(config, 'rel').path).toBe(join(root, 'team', '~x'));
  });

  it('also finds model_repos.yml', async () => {
    const file = await write('p/model_repos.yml', 'repositories: {}\n');
    await mkdir(join(root, 'p', 'sub'));
    expect(await findConfigFile({ cwd: join(root, 'p', 'sub') })).toBe(file);
  });

  it('prefers an explicit path, then AIM_CONFIG, over the search', async () => {
    await write('model_repos.yaml', 'repositories:\n  searched: {type: local, path: /s}\n');
    const viaEnv = await write('env/custom.yaml', 'repositories:\n  fromenv: {type: local, path: rel}\n');
    const explicit = await write('explicit/other.yaml', 'repositories:\n  explicit: {type: local, path: /e}\n');
    expect((await loadConfig({ cwd: root })).repositories.map((r) => r.name)).toEqual(['searched']);
    process.env.AIM_CONFIG = viaEnv;
    const fromEnv = await loadConfig({ cwd: root });
    expect(fromEnv.filepath).toBe(viaEnv);
    expect(fromEnv.repositories).toMatchObject([{ name: 'fromenv', path: join(root, 'env', 'rel') }]);
    // A relative explicit path is relative to the cwd.
    const fromFlag = await loadConfig({ cwd: root, explicitPath: 'explicit/other.yaml' });
    expect(fromFlag.filepath).toBe(explicit);
    expect(fromFlag.repositories.map((r) => r.name)).toEqual(['explicit']);
  });

  it('gives an empty configuration when no file is found', async () => {
    const config = await loadConfig({ cwd: root });
    expect(config.filepath).toBeUndefined();
    expect(config.repositories).toEqual([]);
    const error = (() => {
      try {
        findRepo(config, 'vision');
      } catch (e) {
        return e as NotFoundError;
      }
    })();
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error?.message).toMatch(/repository "vision" is not in any model_repos.yaml \(known: none\)/);
    expect(error?.hint).toMatch(/aim repo create vision/);
  });

  it('treats an explicit file that does not exist yet as an empty configuration at that path (repo create writes it)', async () => {
    const missing = join(root, 'new', 'model_repos.yaml');
    const config = await loadConfig({ explicitPath: missing });
    expect(config.filepath).toBe(missing);
    expect(config.repositories).toEqual([]);
    await addRepository(config, { name: 'fresh', type: 'local', path: '/data/fresh' });
    expect(findRepo(await loadConfig({ explicitPath: missing }), 'fresh').path).toBe('/data/fresh');
  });

  it('reports an explicit path that cannot be read as NotFoundError naming it', async () => {
    const folder = join(root, 'a-folder');
    await mkdir(folder);
    const error = await failure(loadConfig({ explicitPath: folder }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toContain(folder);
    expect(error.message).toMatch(/EISDIR/);
  });
});

describe('config: validation', () => {
  it('reports malformed YAML as ConfigError with file:line:col', async () => {
    const file = await write('model_repos.yaml', 'repositories:\n  a:\n    type: local\n    path: [unclosed\n  b: {type: local\n');
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: malformed YAML: `));
    expect(error.message).not.toContain('\n');
    const [, line, column] = /:(\d+):(\d+): /.exec(error.message)!;
    expect([4, 5]).toContain(Number(line)); // the unclosed [ on line 4 is detected where the next entry starts
    expect(Number(column)).toBeGreaterThan(0);
    expect(error.hint).toBeTruthy();
  });

  it('reports a tab-indented file at the offending line', async () => {
    const file = await write('model_repos.yaml', 'repositories:\n  a:\n\ttype: local\n');
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/model_repos\.yaml:3:\d+: malformed YAML/);
  });

  it('checks S3 settings and unknown keys, and passes valid ones through', async () => {
    const file = await write(
      'model_repos.yaml',
      [
        'repositories:',
        '  ok: {type: s3, path: s3://b/p, region: eu-west-1, endpoint: "http://127.0.0.1:9000", checksums: when_supported, concurrency: 32}',
        '  typo: {type: s3, path: s3://b/p, regoin: x}',
        '  sums: {type: s3, path: s3://b/p, checksums: always}',
        '  many: {type: s3, path: s3://b/p, concurrency: 0}',
        '  url: {type: s3, path: s3://b/p, endpoint: minio:9000}',
        '  packed: {type: local, path: /tmp/x, packs: "yes"}',
        '',
      ].join('\n'),
    );
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    for (const problem of [
      /repository typo: unknown setting regoin/,
      /repository sums: checksums must be when_required or when_supported/,
      /repository many: concurrency must be a whole number from 1 to 256/,
      /repository url: endpoint must be an http:\/\/ or https:\/\/ URL/,
      /repository packed: packs must be true or false/,
    ]) {
      expect(error.message).toMatch(problem);
    }
    expect(error.message).not.toMatch(/repository ok:/);
    const good = await write('good.yaml', 'repositories:\n  ok: {type: s3, path: s3://b/p, checksums: when_supported, concurrency: 32}\n');
    const config = await loadConfig({ explicitPath: good });
    expect(config.repositories[0]).toMatchObject({ name: 'ok', checksums: 'when_supported', concurrency: 32 });
  });

  it('collects every invalid repository into one ConfigError', async () => {
    const file = await write(
      'model_repos.yaml',
      [
        'repositories:',
        '  good: {type: local, path: /ok}',
        '  "bad name": {type: local, path: /x}',
        '  notype: {path: /x}',
        '  ftp: {type: ftp, path: /x}',
        '  nopath: {type: local}',
        '  s3bad: {type: s3, path: /not/s3}',
        '  scalar: 42',
        '',
      ].join('\n'),
    );
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message.startsWith(`${file}: `)).toBe(true);
    for (const problem of [
      /invalid repository name "bad name"/,
      /repository notype: type must be local, s3 or http/,
      /repository ftp: type must be local, s3 or http/,
      /repository nopath: path is missing/,
      /repository s3bad: path must look like s3:\/\/bucket\/prefix/,
      /repository scalar must be a mapping/,
    ]) {
      expect(error.message).toMatch(problem);
    }
    expect(error.message).not.toMatch(/good/);
  });

  it('rejects repositories that are not a mapping', async () => {
    const file = await write('model_repos.yaml', 'repositories:\n  - a\n  - b\n');
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/"repositories" must be a mapping of names/);
  });

  it('keeps s3 fields and friendly model names', async () => {
    const file = await write('model_repos.yaml', SHARED);
    const config = await loadConfig({ explicitPath: file });
    expect(config.repositories.map((r) => r.name)).toEqual(['zeta', 'alpha']);
    expect(findRepo(config, 'alpha')).toEqual({ name: 'alpha', type: 's3', path: 's3://bucket/alpha', region: 'eu-west-1' });
    expect(config.models).toEqual({ tiny: 'zeta/tiny:v1' });
    const error = (() => {
      try {
        findRepo(config, 'beta');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/known: zeta, alpha/);
  });
});

describe('config edits (aim repo create / delete)', () => {
  it('adds a repository keeping the comments and order of an existing file', async () => {
    const file = await write('model_repos.yaml', SHARED);
    const written = await addRepository(await loadConfig({ explicitPath: file }), { name: 'beta', type: 'local', path: '/data/beta' });
    expect(written).toBe(file);
    const text = await readFile(file, 'utf8');
    // Everything that was there is still there, byte for byte, and the new entry comes after the old ones.
    expect(text).toContain('# Team repositories: ask #ml-infra before changing\n');
    expect(text).toContain('  # the NFS share\n  zeta:\n    type: local\n    path: /mnt/nfs/zeta # do not move\n');
    expect(text.indexOf('zeta:')).toBeLessThan(text.indexOf('alpha:'));
    expect(text.indexOf('alpha:')).toBeLessThan(text.indexOf('beta:'));
    expect(text).toMatch(/models:\n {2}tiny: zeta\/tiny:v1\n/);
    const reloaded = await loadConfig({ explicitPath: file });
    expect(reloaded.repositories.map((r) => r.name)).toEqual(['zeta', 'alpha', 'beta']);
    expect(findRepo(reloaded, 'beta')).toEqual({ name: 'beta', type: 'local', path: '/data/beta' });
  });

  it('leaves out unset s3 options and never writes credentials', async () => {
    const file = await write('model_repos.yaml', 'repositories: {}\n');
    await addRepository(await loadConfig({ explicitPath: file }), {
      name: 'lab',
      type: 's3',
      path: 's3://models/lab',
      region: 'us-east-1',
      endpoint: undefined,
    });
    const reloaded = await loadConfig({ explicitPath: file });
    expect(findRepo(reloaded, 'lab')).toEqual({ name: 'lab', type: 's3', path: 's3://models/lab', region: 'us-east-1' });
    expect(await readFile(file, 'utf8')).not.toMatch(/endpoint|secret|key/i);
  });

  it('refuses a name that exists, and an invalid name', async () => {
    const file = await write('model_repos.yaml', SHARED);
    const config = await loadConfig({ explicitPath: file });
    const conflict = await failure(addRepository(config, { name: 'zeta', type: 'local', path: '/x' }));
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict.message).toMatch(/repository "zeta" already exists/);
    await expect(addRepository(config, { name: '../x', type: 'local', path: '/x' })).rejects.toThrow(/invalid repository name/);
    expect(await readFile(file, 'utf8')).toBe(SHARED);
  });

  it('edits a linked model_repos.yaml where the link points (a dotfiles folder), leaving the link a link', async () => {
    const real = await write('dotfiles/aim.yaml', 'repositories:\n  keep: {type: local, path: /keep}\n');
    const linked = join(root, 'model_repos.yaml');
    await symlink('dotfiles/aim.yaml', linked);
    await addRepository(await loadConfig({ explicitPath: linked }), { name: 'added', type: 'local', path: '/added' });
    expect((await lstat(linked)).isSymbolicLink()).toBe(true);
    expect(await readlink(linked)).toBe('dotfiles/aim.yaml');
    expect((await loadConfig({ explicitPath: real })).repositories.map((r) => r.name)).toEqual(['keep', 'added']);
    await removeRepository(await loadConfig({ explicitPath: linked }), 'keep');
    expect((await lstat(linked)).isSymbolicLink()).toBe(true);
    expect(await readFile(real, 'utf8')).not.toMatch(/keep/);
  });

  it('writes ./model_repos.yaml in the cwd when no file exists yet', async () => {
    const config = await loadConfig({ cwd: root });
    const written = await addRepository(config, { name: 'first', type: 'local', path: '/data/first' }, root);
    expect(written).toBe(join(root, 'model_repos.yaml'));
    expect(findRepo(await loadConfig({ explicitPath: written }), 'first').path).toBe('/data/first');
  });

  it('removes a repository keeping everything else, and refuses an unknown one', async () => {
    const file = await write('model_repos.yaml', SHARED);
    await removeRepository(await loadConfig({ explicitPath: file }), 'alpha');
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('alpha');
    expect(text).toContain('# Team repositories: ask #ml-infra before changing\n');
    expect(text).toContain('path: /mnt/nfs/zeta # do not move');
    expect(text).toContain('tiny: zeta/tiny:v1');
    await expect(removeRepository(await loadConfig({ explicitPath: file }), 'alpha')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('config: hostile or oversized files', () => {
  it('refuses a YAML alias bomb with a ConfigError instead of expanding it', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    const file = await write('model_repos.yaml', `${levels.join('\n')}\nrepositories: {}\n`);
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/model_repos\.yaml: cannot be read: .*alias/i);
  });

  it('refuses a misspelt section instead of reading the file as if it had no repositories', async () => {
    const file = await write('model_repos.yaml', 'repositores:\n  a: {type: local, path: /a}\nmodel:\n  tiny: a/tiny:v1\n');
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/unknown section "repositores" \(did you mean repositories\?\); unknown section "model" \(did you mean models\?\)/);
  });

  it('allows a few aliases, as hand-written files use them', async () => {
    const file = await write('model_repos.yaml', 'shared: &shared {type: local, path: /a}\nrepositories:\n  a: *shared\n  b: {type: local, path: /b}\n');
    expect((await loadConfig({ explicitPath: file })).repositories.map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('names a repository given twice (the parser\'s own check was quadratic, so aim checks)', async () => {
    const file = await write('model_repos.yaml', 'repositories:\n  a: {type: local, path: /a}\n  a: {type: local, path: /b}\n');
    const error = await failure(loadConfig({ explicitPath: file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/repositories\.a is given twice/);
  });

  it('loads 40,000 repositories, each resolved', async () => {
    const lines = ['repositories:'];
    for (let i = 0; i < 40_000; i++) lines.push(`  r${i}: {type: local, path: /srv/r${i}}`);
    const file = await write('model_repos.yaml', `${lines.join('\n')}\n`);
    const config = await loadConfig({ explicitPath: file });
    expect(config.repositories).toHaveLength(40_000);
    expect(findRepo(config, 'r39999').path).toBe('/srv/r39999');
  });

  it('refuses wrongly typed top-level values, a file too big to be a config, and what is not a regular file', async () => {
    const typed = await write('typed.yaml', 'repositories: {}\nmodels: [1, 2]\nkamiwaza: {url: 5}\n');
    const error = await failure(loadConfig({ explicitPath: typed }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/"models" must be a mapping.*"kamiwaza" must be a mapping whose url is an http/);
    const big = await write('big.yaml', `# ${'x'.repeat(17 * 1024 * 1024)}\n`);
    expect((await failure(loadConfig({ explicitPath: big }))).message).toMatch(/big\.yaml is \d+ bytes, more than the 16777216/);
    expect(await failure(loadConfig({ explicitPath: '/dev/null' }))).toBeInstanceOf(ConfigError);
  });
});
