import { EnvReader } from './env-reader.js';

// Switches between implementations that give the same results: the fast one by default, the portable one on
// request (to compare them, or where the fast one misbehaves).

/** AIM_HASH: `native` BLAKE3 (@napi-rs/blake-hash) where it loads, or `wasm` (hash-wasm, the portable one). */
export function hashBackend(env: NodeJS.ProcessEnv = process.env): 'native' | 'wasm' {
  return checked(env, (reader) => reader.choice('AIM_HASH', ['native', 'wasm'] as const)) ?? 'native';
}

/** AIM_CDC: cut big files on `workers` (threads over shared memory) or `inline` on the main thread. */
export function cdcMode(env: NodeJS.ProcessEnv = process.env): 'workers' | 'inline' {
  return checked(env, (reader) => reader.choice('AIM_CDC', ['workers', 'inline'] as const)) ?? 'workers';
}

/** AIM_DIRECT_IO: 0 keeps every read and write in the page cache, even on file systems that take O_DIRECT. */
export function directIoEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return checked(env, (reader) => reader.flag('AIM_DIRECT_IO')) ?? true;
}

/** AIM_CONFIG: the model_repos.yaml to use when --config is not given; undefined to search from the cwd upward. */
export function aimConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return new EnvReader(env).text('AIM_CONFIG');
}

function checked<T>(env: NodeJS.ProcessEnv, read: (reader: EnvReader) => T): T {
  const reader = new EnvReader(env);
  const value = read(reader);
  reader.check('see README.md, Configuration');
  return value;
}
