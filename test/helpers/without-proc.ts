import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// Some code has a path for machines without /proc (a container or chroot that does not mount it, macOS): Linux's
// /proc/self/fd is how it reaches an open file or folder again. A test runs that path for real in a mount namespace
// of its own, where an empty tmpfs hides /proc, against the built code (dist/), as a Node ES module script.

const HIDE_PROC = ['-rm', 'sh', '-c', 'mount -t tmpfs none /proc && exec "$0" --input-type=module -e "$1"', process.execPath];

/** Whether this machine lets a test hide /proc (unshare with a user namespace, or root). */
export const canHideProc = await promisify(execFile)('unshare', [...HIDE_PROC, 'process.exit(0)']).then(
  () => true,
  () => false,
);

/** The path of a built module, `dist/<relative>` (e.g. 'lib/held-folder.js'), for a script's import. */
export const builtModule = (relative: string): string => fileURLToPath(new URL(`../../dist/${relative}`, import.meta.url));

/** Runs `script` where /proc is hidden; its stdout. */
export async function runWithoutProc(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)('unshare', [...HIDE_PROC, script]);
  return stdout;
}
