import { rmSync } from 'node:fs';

/**
 * Removes `path` (a temp file or a private work folder) if the process ends while it is in use: on Ctrl-C or SIGTERM
 * the CLI runs the 'exit' listeners before it re-raises the signal, and nothing else would remove it. Returns the
 * function that stops watching, for when the caller has moved or removed it itself.
 */
export function removedOnExit(path: string): () => void {
  const remove = (): void => rmSync(path, { recursive: true, force: true });
  process.once('exit', remove);
  return () => process.removeListener('exit', remove);
}
