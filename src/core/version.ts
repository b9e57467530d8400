import { readFileSync } from 'node:fs';

/** aim's own version, from package.json (one read, at the moment it is asked for). */
export function aimVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
