import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ResourceLimits } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerClient, WorkerStoppedError } from '../../src/lib/worker-rpc.js';

// The worker runs the built dist/lib/worker-rpc.js (npm test builds first); the client is the source.
const workerUrl = new URL('./fixtures/rpc-worker.mjs', import.meta.url);
type Request = { op: string; text?: string; ms?: number; bytes?: Uint8Array };
type Reply = { text?: string; count?: number; bytes?: Uint8Array; length?: number };

const clients: Array<WorkerClient<Request, Reply>> = [];
function start(setup?: unknown, limits?: ResourceLimits): WorkerClient<Request, Reply> {
  const client = new WorkerClient<Request, Reply>(workerUrl, setup, limits);
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.terminate()));
});

describe('worker RPC', () => {
  // The worker does not keep an idle process alive, but a call waiting for its reply must: a process with nothing
  // else pending ended there before, exit code 0, its command cut short without a word.
  it('keeps a process whose only work is a call waiting alive until the reply, or the worker\'s death', async () => {
    const lone = fileURLToPath(new URL('./fixtures/rpc-lone-call.mjs', import.meta.url));
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [lone, ...args], { timeout: 20_000 }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code?: number; stdout?: string }) => ({ code: error.code, stdout: error.stdout ?? '' }),
      );
    expect(await run('wait', '300')).toEqual({ code: 0, stdout: 'replied late\n' });
    expect(await run('start-fails')).toEqual({ code: 9, stdout: 'rejected WorkerStoppedError\n' });
    expect(await run('none')).toEqual({ code: 0, stdout: 'idle\n' });
    expect(await run('terminate-after-reply')).toEqual({ code: 0, stdout: 'terminated\n' });
    expect(await run('terminate-after-crash')).toEqual({ code: 0, stdout: 'terminated\n' });
  });

  it('routes each reply to its own call, and passes the setup to the worker', async () => {
    const client = start({ greeting: 'hi' });
    const replies = await Promise.all([
      client.call({ op: 'wait', text: 'slow', ms: 50 }),
      client.call({ op: 'echo', text: 'a' }),
      client.call({ op: 'echo', text: 'b' }),
    ]);
    expect(replies).toEqual([
      { text: 'slow', count: 1 },
      { text: 'hi a', count: 2 },
      { text: 'hi b', count: 3 },
    ]);
    expect(client.inFlight).toBe(0);
  });

  it('moves transferred buffers both ways', async () => {
    const client = start();
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const reply = await client.call({ op: 'bytes', bytes }, [bytes.buffer]);
    expect(bytes.byteLength).toBe(0); // moved to the worker, not copied
    expect([...reply.bytes!]).toEqual([1, 2, 3, 4]);
    expect(reply.length).toBe(4);
  });

  it('fails only the call whose handler threw, with its message', async () => {
    const client = start();
    const [failed, fine] = await Promise.allSettled([client.call({ op: 'fail', text: 'x' }), client.call({ op: 'echo', text: 'y' })]);
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'refused x' } });
    expect(fine).toEqual({ status: 'fulfilled', value: { text: 'hello y', count: 1 } });
  });

  it('fails every pending call, and every later one, when the worker exits', async () => {
    const client = start();
    const exiting = expect(client.call({ op: 'exit' })).rejects.toThrow(/exited \(code 3\)/);
    const queued = expect(client.call({ op: 'echo', text: 'queued' })).rejects.toThrow(/exited \(code 3\)/);
    await Promise.all([exiting, queued]);
    expect(client.inFlight).toBe(0);
    await expect(client.call({ op: 'echo', text: 'late' })).rejects.toThrow(/exited/);
  });

  it('fails pending calls when the worker throws outside a handler', async () => {
    const client = start();
    const pending = client.call({ op: 'echo', text: 'before' }).then(() => client.call({ op: 'crash' }));
    await expect(pending).rejects.toThrow('a worker thread failed: the worker fell over');
  });

  it('fails pending calls when the worker is stopped', async () => {
    const client = start();
    const hanging = expect(client.call({ op: 'hang' })).rejects.toThrow('the worker thread was stopped');
    await client.terminate();
    await hanging;
  });

  it('says a worker that died before it was ready handled nothing, whether it threw or ran out of memory', async () => {
    for (const client of [start({ failAtStart: true }), start(undefined, { maxOldGenerationSizeMb: 1 })]) {
      const calls = [client.call({ op: 'echo', text: 'a' }), client.call({ op: 'echo', text: 'b' })];
      for (const call of calls) await expect(call).rejects.toMatchObject({ name: 'WorkerStoppedError', started: false });
    }
  });

  it('says a worker that died once ready had started, when it runs out of the memory it was given', async () => {
    const client = start(undefined, { maxOldGenerationSizeMb: 32 });
    expect(await client.call({ op: 'echo', text: 'first' })).toEqual({ text: 'hello first', count: 1 });
    const grown = await client.call({ op: 'grow' }).catch((error: unknown) => error);
    expect(grown).toBeInstanceOf(WorkerStoppedError);
    expect(grown).toMatchObject({ started: true, message: expect.stringMatching(/memory limit/) });
    await expect(client.call({ op: 'echo', text: 'late' })).rejects.toMatchObject({ started: true });
  });
});
