import { resolve } from 'node:path';
import { EnvReader } from './env-reader.js';

/**
 * AIM_IO_STATS: a file to write, when the command ends, what it asked of the repository's storage (calls per
 * operation, bytes per key prefix) as JSON; undefined (the default) counts nothing. For the scale benchmark.
 */
export function ioStatsPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = new EnvReader(env).text('AIM_IO_STATS');
  return file === undefined ? undefined : resolve(file);
}
