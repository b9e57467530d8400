import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The user's home: HOME when it is an absolute path, else the password database's, as when HOME is unset. */
export function userHome(): string {
  const fromEnv = homedir();
  if (isAbsolute(fromEnv)) return fromEnv;
  try {
    return userInfo().homedir;
  } catch {
    return fromEnv;
  }
}

/** AIM_HOME: pulled versions for `run`, pull journals, deployment records. XDG data folder by default. */
export function aimHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIM_HOME) return resolve(env.AIM_HOME);
  // An empty or relative XDG_DATA_HOME is ignored, as the XDG spec asks: a relative one would put AIM_HOME (every
  // pulled model, every deployment record) under whichever folder a command happens to run in.
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg && isAbsolute(xdg) ? xdg : join(userHome(), '.local', 'share');
  return join(dataHome, 'aim');
}
