// Small helpers for what a test expects to be thrown or held.
import { createServer, type Server } from 'node:net';
import { expect } from 'vitest';
import { ConfigError } from '../../src/lib/errors.js';

/** The ConfigError `read` throws; fails the test when it throws anything else or nothing. */
export function configError(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** A port on 127.0.0.1 held by a listening socket until `release`: what another program holding it looks like. */
export async function takenPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
