/**
 * A small request/response pool over worker threads started by `startThread` (thread.ts): one promise per
 * request, errors carried back with their message. The data-parallel replicas run on it.
 */
import { parentPort, type TransferListItem, type Worker } from 'worker_threads';
import { startThread, threadData } from './thread';

interface Envelope<T> {
  id: number;
  payload: T;
}

type Reply<R> = { id: number; ok: true; result: R } | { id: number; ok: false; error: string };

interface Pending<R> {
  resolve: (value: R) => void;
  reject: (error: Error) => void;
}

export class WorkerPool<Request, Result> {
  private readonly pending = new Map<number, Pending<Result>>();
  private nextId = 0;
  private failure: Error | null = null;

  private constructor(private readonly workers: Worker[]) {
    for (const worker of workers) {
      worker.on('message', (reply: Reply<Result>) => this.onReply(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`worker exited with code ${code}`));
      });
    }
  }

  static start<Request, Result>(
    entry: string,
    size: number,
    workerData?: unknown,
  ): WorkerPool<Request, Result> {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`worker pool size must be a positive integer (got ${size})`);
    return new WorkerPool<Request, Result>(
      Array.from({ length: size }, () => startThread(entry, workerData)),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends one request to worker `index`; `transfer` moves buffers instead of copying them. */
  call(index: number, request: Request, transfer: TransferListItem[] = []): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.workers[index];
    if (!worker)
      return Promise.reject(new Error(`no worker ${index} (pool of ${this.workers.length})`));
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, payload: request } satisfies Envelope<Request>, transfer);
    });
  }

  /** The same request to every worker, results in worker order. */
  broadcast(request: Request): Promise<Result[]> {
    return Promise.all(this.workers.map((_, i) => this.call(i, request)));
  }

  async close(): Promise<void> {
    this.fail(new Error('worker pool closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private onReply(reply: Reply<Result>): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new Error(reply.error));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * Worker side: answers each request with `handle`'s result (or its error message). Requests are handled
 * one at a time, in arrival order. `transferOf` names buffers of a result to move rather than copy.
 */
export function serveRequests<Request, Result>(
  handle: (request: Request) => Promise<Result> | Result,
  transferOf: (result: Result) => TransferListItem[] = () => [],
): void {
  threadData();
  const port = parentPort!;
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (envelope: Envelope<Request>) => {
    queue = queue.then(async () => {
      try {
        const result = await handle(envelope.payload);
        port.postMessage(
          { id: envelope.id, ok: true, result } satisfies Reply<Result>,
          transferOf(result),
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        port.postMessage({ id: envelope.id, ok: false, error: message } satisfies Reply<Result>);
      }
    });
  });
}
