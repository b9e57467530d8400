import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../src/backends/local.js';
import { runBackendConformance } from './conformance.js';

runBackendConformance('local', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'aim-local-'));
  return { backend: new LocalBackend(folder), cleanup: () => rm(folder, { recursive: true, force: true }) };
});
