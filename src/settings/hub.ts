import { EnvReader } from './env-reader.js';

/** The Hugging Face hub as huggingface_hub reads it from the environment. */
export interface HubEnv {
  /** HF_ENDPOINT (a mirror or a test stand-in), else https://huggingface.co; no trailing slash. */
  endpoint: string;
  /** HF_TOKEN, else the older HUGGING_FACE_HUB_TOKEN: sent as a Bearer token to the endpoint's host only. */
  token?: string;
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const reader = new EnvReader(env);
  const endpoint = (reader.text('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = reader.text('HF_TOKEN') ?? reader.text('HUGGING_FACE_HUB_TOKEN');
  reader.check('README lists them');
  return { endpoint, token };
}
