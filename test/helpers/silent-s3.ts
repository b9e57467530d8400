import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Workspace } from './cli.js';

/**
 * Runs `fn` with a config naming repository `s` on an S3 endpoint that takes the connection and never answers: a
 * command against it is waiting when a signal comes. `connected()` says whether the command has reached it.
 */
export async function withSilentS3(ws: Workspace, fn: (config: string, connected: () => boolean) => Promise<void>): Promise<void> {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = silent.address() as AddressInfo;
    const config = ws.path('silent.yaml');
    await writeFile(config, `repositories:\n  s:\n    type: s3\n    path: s3://bucket/p\n    region: us-east-1\n    endpoint: http://127.0.0.1:${port}\n`);
    await fn(config, () => sockets.length > 0);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
}
