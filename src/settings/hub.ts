import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { readRegularFileIfExists } from '../lib/safe-fs.js';
import { EnvReader } from './env-reader.js';

/** The Hugging Face hub as huggingface_hub reads it from the environment. */
export interface HubEnv {
  /** HF_ENDPOINT (a mirror or a test stand-in), else https://huggingface.co; no trailing slash. */
  endpoint: string;
  /** Sent as a Bearer token to the endpoint's host only. */
  token?: string;
  /** Where the token came from ("HF_TOKEN" or the file's path), or where a token file was looked for: for messages. */
  tokenSource: string;
}

/** A token is about 40 characters: a bigger file is not a token file, and is not read whole. */
const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * HF_ENDPOINT, and the token as huggingface_hub finds it: HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
 * file HF_TOKEN_PATH names, else $HF_HOME/token (HF_HOME defaults to $XDG_CACHE_HOME/huggingface, then
 * ~/.cache/huggingface), where `huggingface-cli login` writes it. The file is read only if it is a regular file
 * (no link followed at its name), bounded, and trimmed.
 */
export async function hubEnv(env: NodeJS.ProcessEnv = process.env): Promise<HubEnv> {
  const reader = new EnvReader(env);
  const endpoint = (reader.text('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  const fromEnv = reader.text('HF_TOKEN') ?? reader.text('HUGGING_FACE_HUB_TOKEN');
  const hfHome = reader.text('HF_HOME') ?? join(reader.text('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
  const tokenFile = reader.text('HF_TOKEN_PATH') ?? join(hfHome, 'token');
  reader.check('README lists them');
  if (fromEnv) return { endpoint, token: fromEnv.trim(), tokenSource: 'HF_TOKEN' };
  const bytes = await readRegularFileIfExists(tokenFile, MAX_TOKEN_FILE_BYTES).catch((error: Error) => {
    throw new ConfigError(`cannot read the Hugging Face token file ${tokenFile}: ${error.message}`, {
      hint: 'make it a regular file holding the token (`huggingface-cli login` writes one), or set HF_TOKEN instead',
    });
  });
  const token = bytes?.toString('utf8').trim();
  return { endpoint, token: token || undefined, tokenSource: tokenFile };
}

/**
 * AIM_TEST_HUB_CHECKPOINT_BYTES=<n>: a download from the hub makes what it stored durable (and resumable) every n
 * bytes instead of every 64 MiB, so a test can kill a small download past a checkpoint. Unset in normal use.
 */
export function hubCheckpointBytes(env: NodeJS.ProcessEnv = process.env): number {
  const reader = new EnvReader(env);
  const bytes = reader.wholeNumber('AIM_TEST_HUB_CHECKPOINT_BYTES', 1, Number.MAX_SAFE_INTEGER);
  reader.check('AIM_TEST_HUB_CHECKPOINT_BYTES is for the test suite only');
  return bytes ?? 64 * 1024 * 1024;
}
