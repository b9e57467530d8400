// Where the hub token comes from, in huggingface_hub's order: HF_TOKEN, then the file HF_TOKEN_PATH names, then
// $HF_HOME/token (HF_HOME defaulting to $XDG_CACHE_HOME/huggingface); the file read bounded, regular only, trimmed.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/lib/errors.js';
import { hubEnv } from '../../src/settings/hub.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aim-hf-'));
  await mkdir(join(dir, 'home'));
  await writeFile(join(dir, 'home', 'token'), ' from-home \n');
  await writeFile(join(dir, 'path-token'), 'from-path\n');
  await mkdir(join(dir, 'xdg', 'huggingface'), { recursive: true });
  await writeFile(join(dir, 'xdg', 'huggingface', 'token'), 'from-xdg');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('hubEnv', () => {
  it('takes HF_TOKEN over any file, then HF_TOKEN_PATH, then $HF_HOME/token, then $XDG_CACHE_HOME/huggingface/token', async () => {
    const files = { HF_TOKEN_PATH: join(dir, 'path-token'), HF_HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'xdg') };
    expect(await hubEnv({ ...files, HF_TOKEN: 'from-env' })).toMatchObject({ token: 'from-env', tokenSource: 'HF_TOKEN' });
    expect(await hubEnv(files)).toMatchObject({ token: 'from-path', tokenSource: join(dir, 'path-token') });
    expect(await hubEnv({ ...files, HF_TOKEN_PATH: '' })).toMatchObject({ token: 'from-home', tokenSource: join(dir, 'home', 'token') });
    expect(await hubEnv({ XDG_CACHE_HOME: join(dir, 'xdg') })).toMatchObject({ token: 'from-xdg' });
    expect(await hubEnv({ HF_HOME: join(dir, 'nowhere') })).toEqual({ endpoint: 'https://huggingface.co', token: undefined, tokenSource: join(dir, 'nowhere', 'token') });
  });

  it('refuses a token file that is a FIFO or larger than a token, at once and plainly', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await expect(hubEnv({ HF_TOKEN_PATH: join(dir, 'fifo') })).rejects.toThrow(ConfigError);
    await writeFile(join(dir, 'big'), 'x'.repeat(5000));
    await expect(hubEnv({ HF_TOKEN_PATH: join(dir, 'big') })).rejects.toThrow(/cannot read the Hugging Face token file .*big/);
  });
});
