/**
 * The one way the service starts a worker thread (framework-free):
 *
 *   // parent: one piece of work, with progress and cancel
 *   const result = await runThread<Result, Progress>(workerEntry(WORKERS_DIR, 'attack.worker'), data, {
 *     onProgress, signal, nice,
 *   });
 *   // the worker file
 *   serveThread<Data, Result, Progress>(async (data, thread) => { thread.reportProgress(p); return result; });
 *
 * Long-lived request/response threads (the embedder, the data-parallel replicas) use `startThread` and,
 * inside the thread, `threadData`. Either way an entry is a .ts source (a checkout, Jest: compiled on
 * load by @swc-node/register) or the compiled .js in dist/, and the thread runs at the nice value asked.
 *
 * Cancel: `signal` aborting sets the thread's `cancelled()` flag (shared memory, readable inside
 * synchronous loops) and aborts its `thread.signal`; a thread that has not answered `graceMs` (3.5 s)
 * later is terminated and `runThread` rejects with `ThreadCancelledError`.
 */
import * as os from 'os';
import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';

/** What every thread receives as `workerData`. */
interface ThreadEnvelope {
  data: unknown;
  /** Nice value the thread applies to itself at start (0: the caller's priority). */
  nice: number;
  /** Int32 flag: 1 once the work is cancelled. */
  cancelFlag: SharedArrayBuffer;
}

/** An error as it crosses the thread boundary. */
interface ThreadError {
  name: string;
  message: string;
  stack?: string;
}

type ThreadMessage<Result, Progress> =
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: Result }
  | { type: 'error'; error: ThreadError };

type ThreadCommand = { type: 'cancel' };

export const DEFAULT_CANCEL_GRACE_MS = 3500;

export class ThreadCancelledError extends Error {
  constructor() {
    super('cancelled: the worker thread was stopped before it returned a result');
    this.name = 'ThreadCancelledError';
  }
}

/** The worker file `baseName` in `dir` with the running extension (.ts under swc/Jest, .js in dist/). */
export function workerEntry(dir: string, baseName: string): string {
  return path.join(dir, `${baseName}${path.extname(__filename)}`);
}

function spawn(entry: string, envelope: ThreadEnvelope): Worker {
  if (path.extname(entry) === '.ts') {
    const code = `require('@swc-node/register'); require(${JSON.stringify(entry)});`;
    return new Worker(code, { eval: true, workerData: envelope });
  }
  return new Worker(entry, { workerData: envelope });
}

/**
 * Starts `entry` with `data` (read inside with `threadData()`), for threads that serve many requests
 * over their own message protocol. The caller owns the Worker (messages, errors, terminate).
 */
export function startThread(entry: string, data: unknown, options: { nice?: number } = {}): Worker {
  return spawn(entry, { data, nice: options.nice ?? 0, cancelFlag: new SharedArrayBuffer(4) });
}

export interface RunThreadOptions<Progress> {
  /** Each `thread.reportProgress(p)` of the worker, in order. */
  onProgress?: (progress: Progress) => void;
  /** Aborting cancels the work (cooperatively, then by terminating the thread). */
  signal?: AbortSignal;
  /** Nice value of the thread (and of the threads it starts); 0 keeps the caller's priority. */
  nice?: number;
  /** How long a cancelled thread may take to answer before it is terminated. */
  graceMs?: number;
}

/** Rebuilds the worker's error in this thread: its name, message and stack. */
function reviveError(error: ThreadError): Error {
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack) revived.stack = error.stack;
  return revived;
}

/** Runs one piece of work in a fresh thread (its entry calls `serveThread`) and settles with its answer. */
export function runThread<Result, Progress = never>(
  entry: string,
  data: unknown,
  options: RunThreadOptions<Progress> = {},
): Promise<Result> {
  const cancelFlag = new SharedArrayBuffer(4);
  const worker = spawn(entry, { data, nice: options.nice ?? 0, cancelFlag });
  const signal = options.signal;
  return new Promise<Result>((resolve, reject) => {
    let settled = false;
    let stoppedAfterCancel = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = (): void => {
      Atomics.store(new Int32Array(cancelFlag), 0, 1);
      worker.postMessage({ type: 'cancel' } satisfies ThreadCommand);
      killTimer = setTimeout(() => {
        // Settled once the thread is gone: the caller may then read what it left on disk.
        stoppedAfterCancel = true;
        void worker.terminate();
      }, options.graceMs ?? DEFAULT_CANCEL_GRACE_MS);
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: ThreadMessage<Result, Progress>) => {
      if (settled) return;
      if (message.type === 'progress') options.onProgress?.(message.progress);
      else if (message.type === 'result') settle(() => resolve(message.result));
      else if (message.type === 'error') settle(() => reject(reviveError(message.error)));
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (code) =>
      settle(() =>
        reject(
          stoppedAfterCancel
            ? new ThreadCancelledError()
            : new Error(`worker thread exited with code ${code} before answering`),
        ),
      ),
    );
  });
}

/**
 * Raises the calling thread's nice value to `nice` (never lowers it). On Linux, setpriority(PRIO_PROCESS, 0)
 * applies to the calling thread only, and threads it starts afterwards inherit it, so the HTTP loop keeps
 * its priority. Raising nice needs no privilege; where the platform refuses, the thread simply runs at
 * normal priority. Returns the nice value the thread runs at.
 */
export function lowerThreadPriority(nice: number): number {
  try {
    const current = os.getPriority();
    if (nice > current) os.setPriority(Math.min(19, nice));
    return os.getPriority();
  } catch {
    // e.g. a sandbox that forbids setpriority: keep the default priority.
    return 0;
  }
}

function envelope(caller: string): ThreadEnvelope {
  if (isMainThread || !parentPort) throw new Error(`${caller} must run inside a worker thread`);
  return workerData as ThreadEnvelope;
}

/**
 * Inside a thread: its data, after applying the nice value it was started with (call it before starting a
 * tfjs backend, whose threads inherit the value). `nice` is the value the thread runs at.
 */
export function threadData<Data>(): { data: Data; nice: number } {
  const input = envelope('threadData');
  return { data: input.data as Data, nice: lowerThreadPriority(input.nice) };
}

/** What a `serveThread` work function sees. */
export interface ThreadContext<Progress> {
  /** Delivered to the parent's `onProgress`, in order. */
  reportProgress(progress: Progress): void;
  /** True once the work is cancelled; cheap enough to check inside synchronous loops. */
  cancelled(): boolean;
  /** Aborted on cancel (when the thread's event loop gets to run). */
  signal: AbortSignal;
}

/** Call once at the top level of a worker file: runs `work` on the thread's data and answers. */
export function serveThread<Data, Result, Progress = never>(
  work: (data: Data, thread: ThreadContext<Progress>) => Promise<Result>,
): void {
  const input = envelope('serveThread');
  const port = parentPort!;
  const flag = new Int32Array(input.cancelFlag);
  const controller = new AbortController();
  port.on('message', (command: ThreadCommand) => {
    if (command.type === 'cancel') controller.abort();
  });
  const { data } = threadData<Data>();
  const post = (message: ThreadMessage<Result, Progress>): void => port.postMessage(message);
  const thread: ThreadContext<Progress> = {
    reportProgress: (progress) => post({ type: 'progress', progress }),
    cancelled: () => Atomics.load(flag, 0) === 1,
    signal: controller.signal,
  };
  // A work function that throws synchronously answers like one that rejects.
  Promise.resolve()
    .then(() => work(data, thread))
    .then((result) => post({ type: 'result', result }))
    .catch((error: unknown) => {
      const err = error instanceof Error ? error : new Error(String(error));
      post({ type: 'error', error: { name: err.name, message: err.message, stack: err.stack } });
    });
  // No port.close(): the parent terminates the thread once it has the answer.
}
