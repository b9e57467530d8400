import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** AIM_HOME: pulled versions for `run`, pull journals, deployment records. XDG data folder by default. */
export function aimHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIM_HOME) return resolve(env.AIM_HOME);
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'aim');
}
