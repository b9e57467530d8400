import { parentPort, Worker, workerData, type ResourceLimits } from 'node:worker_threads';

// Requests to a worker thread and their replies, matched by id. A worker that dies (an uncaught error, an exit, a
// terminate, its memory limit reached) fails every call still waiting and every later one with a WorkerStoppedError:
// a caller never waits for a reply that cannot come. The worker says when it is ready to serve; one that died before
// that handled no request at all, which is what lets a caller run the same requests itself instead.

type Envelope<T> = { id: number; body: T };
type ReplyEnvelope<T> = { id: number; body?: T; error?: string };

/** The id of the message a worker sends once it serves requests (ids of calls count up from 0). */
const READY = -1;

/** The worker a call went to stopped before it replied. */
export class WorkerStoppedError extends Error {
  constructor(
    message: string,
    /** False when the worker died before it was ready: no request reached a handler, none is half done. */
    readonly started: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WorkerStoppedError';
  }
}

export class WorkerClient<Request, Reply> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(reply: Reply): void; reject(error: Error): void }>();
  private nextId = 0;
  private dead?: WorkerStoppedError;
  private ready = false;
  private error?: Error;

  /**
   * Starts the worker at `url`; `setup` reaches it as `workerSetup()` (shared memory may be part of it). `limits`
   * caps its heap and stack: reaching them ends the worker, as any death does.
   */
  constructor(url: URL, setup?: unknown, limits?: ResourceLimits) {
    this.worker = new Worker(url, { workerData: setup, ...(limits ? { resourceLimits: limits } : {}) });
    this.worker.on('message', (reply: ReplyEnvelope<Reply>) => this.settle(reply));
    this.worker.on('error', (error) => {
      this.error = error;
      // Not ready yet: its ready message may still be on its way (errors come through another port). The exit, which
      // Node emits only once every message has been delivered, decides whether it had started.
      if (this.ready) this.failWith(error);
    });
    this.worker.on('exit', (code) => (this.error ? this.failWith(this.error) : this.fail(`a worker thread exited (code ${code}) with requests pending`)));
    // An idle worker must not keep the process alive: the caller decides when the work is over. A call waiting for
    // its reply must: with nothing else pending, the process would otherwise end there, mid-command. After the
    // listeners: listening for messages refs the worker again.
    this.worker.unref();
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
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      const envelope: Envelope<Request> = { id, body: request };
      try {
        this.worker.postMessage(envelope, transfer);
      } catch (error) {
        // Nothing was sent (a buffer that cannot be moved, say): no reply will come for this id.
        this.forget(id);
        reject(error);
      }
    });
  }

  async terminate(): Promise<void> {
    this.fail('the worker thread was stopped');
    await this.worker.terminate();
  }

  private settle({ id, body, error }: ReplyEnvelope<Reply>): void {
    if (id === READY) {
      this.ready = true;
      return;
    }
    const waiter = this.pending.get(id);
    this.forget(id);
    if (error !== undefined) waiter?.reject(new Error(error));
    else waiter?.resolve(body as Reply);
  }

  private failWith(error: Error): void {
    this.fail(`a worker thread failed: ${error.message}`, { cause: error });
  }

  /**
   * Once only: an 'error' or 'exit' of a worker terminate() is stopping must not unref it again, for the same reason
   * as in forget(). Nothing is pending once it is dead (call() rejects at once).
   */
  private fail(message: string, options?: ErrorOptions): void {
    if (this.dead) return;
    this.dead = new WorkerStoppedError(message, this.ready, options);
    for (const waiter of this.pending.values()) waiter.reject(this.dead);
    this.pending.clear();
    this.worker.unref();
  }

  /**
   * Drops a call's waiter; the last one gone, the worker no longer keeps the process alive. Not once it is stopping:
   * a reply already on its way when terminate() began still arrives, and unref'ing then would undo the ref that
   * keeps the process alive until the worker's exit, so a process with nothing else to do ended inside terminate().
   */
  private forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.dead) this.worker.unref();
  }
}

/** In a worker: what the client passed as `setup`. */
export function workerSetup<T>(): T {
  return workerData as T;
}

/**
 * In a worker, for the test suite's hooks: throws outside the job being handled, whose reply never leaves, so the
 * thread ends as one that failed in its own code would. `why` names the hook.
 */
export function dieUnreported(why: string): Promise<never> {
  setImmediate(() => {
    throw new Error(`${why}: the thread fails on purpose`);
  });
  return new Promise<never>(() => undefined);
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
  port.postMessage({ id: READY } satisfies ReplyEnvelope<Reply>);
}
