// The embedded engine's port, chosen and checked before anything is pulled or started: a port another process holds,
// or one below 1024 that needs privileges, is refused at once with what to do, not found out by the engine later.
import { createServer } from 'node:net';
import { EngineError } from '../../lib/errors.js';

/** A range is tried in order up to this many ports: enough for any real deployment count, bounded for a huge range. */
const MAX_TRIES = 1000;

/** Why `port` cannot be bound on `host` right now (EADDRINUSE, EACCES...), or undefined when it can (it is released). */
export function bindProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

function refusal(port: number, host: string, problem: string): EngineError {
  if (problem === 'EACCES') {
    return new EngineError(`port ${port} on ${host} cannot be bound: ports below 1024 need privileges aim does not have (EACCES)`, {
      hint: 'choose a port from 1024 up with --port (or AIM_PORTS / aim.serve.ports), or --port 0 for any free one',
    });
  }
  if (problem === 'EADDRINUSE') {
    return new EngineError(`port ${port} on ${host} is already in use`, {
      hint: 'choose another --port, or --port 0 for any free one (`aim ps` lists the ports aim is serving on)',
    });
  }
  return new EngineError(`port ${port} on ${host} cannot be bound (${problem})`, { hint: 'choose another --port, or --port 0 for any free one' });
}

/**
 * The port to serve on: 0 (the engine takes any free one), the one asked for once it binds, or the first of a range
 * that binds. Another process could still take it before the engine binds: the engine then reports EADDRINUSE.
 */
export async function choosePort(range: { first: number; last: number }, host = '127.0.0.1'): Promise<number> {
  if (range.first === 0) return 0;
  if (range.first === range.last) {
    const problem = await bindProblem(range.first, host);
    if (problem) throw refusal(range.first, host, problem);
    return range.first;
  }
  const last = Math.min(range.last, range.first + MAX_TRIES - 1);
  let firstProblem: string | undefined;
  for (let port = range.first; port <= last; port += 1) {
    const problem = await bindProblem(port, host);
    if (!problem) return port;
    firstProblem ??= problem;
  }
  throw new EngineError(`no port from ${range.first} to ${last} on ${host} can be bound (${firstProblem})`, {
    hint: 'widen aim.serve.ports (or AIM_PORTS), stop a deployment with `aim stop`, or use --port 0 for any free one',
  });
}
