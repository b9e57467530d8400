import { parentPort, Worker, workerData } from 'node:worker_threads';

// Requests to a worker thread and their replies, matched by id. A worker that dies (an uncaught error, an exit, a
// terminate) fails every call still waiting and every later one: a caller never waits for a reply that cannot come.

type Envelope<T> = { id: number; body: T };
type ReplyEnvelope<T> = { id: number; body?: T; error?: string };

export class WorkerClient<Request, Reply> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(reply: Reply): void; reject(error: Error): void }>();
  private nextId = 0;
  private dead?: Error;

  /** Starts the worker at `url`; `setup` reaches it as `workerSetup()` (shared memory may be part of it). */
  constructor(url: URL, setup?: unknown) {
    this.worker = new Worker(url, { workerData: setup });
    // A worker must not keep the process alive: the caller decides when the work is over.
    this.worker.unref();
    this.worker.on('message', (reply: ReplyEnvelope<Reply>) => this.settle(reply));
    this.worker.on('error', (error) => this.fail(new Error(`a worker thread failed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new Error(`a worker thread exited (code ${code}) with requests pending`)));
  }

  /** Calls not answered yet: how busy this worker is. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends `request` (moving the `transfer` buffers to the worker) and resolves with its reply. */
  call(request: Request, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const envelope: Envelope<Request> = { id, body: request };
      try {
        this.worker.postMessage(envelope, transfer);
      } catch (error) {
        // Nothing was sent (a buffer that cannot be moved, say): no reply will come for this id.
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  async terminate(): Promise<void> {
    this.fail(new Error('the worker thread was stopped'));
    await this.worker.terminate();
  }

  private settle({ id, body, error }: ReplyEnvelope<Reply>): void {
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    if (error !== undefined) waiter?.reject(new Error(error));
    else waiter?.resolve(body as Reply);
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** In a worker: what the client passed as `setup`. */
export function workerSetup<T>(): T {
  return workerData as T;
}

/**
 * In a worker: answers each request with `handle`'s result, or with its error's message. Requests are handled one
 * after another, in order of arrival, so a handler may keep state that later requests build on. `transferOf` names
 * buffers of a reply to move back rather than copy.
 */
export function serveRequests<Request, Reply>(
  handle: (request: Request) => Reply | Promise<Reply>,
  transferOf: (reply: Reply) => ArrayBuffer[] = () => [],
): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests runs only in a worker thread');
  let queue: Promise<unknown> = Promise.resolve();
  port.on('message', ({ id, body }: Envelope<Request>) => {
    queue = queue
      .then(() => handle(body))
      .then(
        (reply) => port.postMessage({ id, body: reply } satisfies ReplyEnvelope<Reply>, transferOf(reply)),
        (error: unknown) => port.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies ReplyEnvelope<Reply>),
      );
  });
}
