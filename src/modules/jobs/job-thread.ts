/**
 * Runs a job's heavy work in a worker thread, so the HTTP event loop never does it:
 *
 *   // parent, inside a JobHandler
 *   return runInJobThread(require.resolve('../../workers/my-job.worker'), payload, ctx);
 *   // the worker file
 *   serveJobThread(async (data, thread) => { ...; thread.reportProgress({ step }); return result; });
 *
 * Cancel: the thread's `cancelled()` turns true (a shared flag, readable inside synchronous loops) and
 * `signal` aborts; a thread that has not answered within `graceMs` (3.5 s) is terminated.
 */
import * as path from 'path';
import { lowerThreadPriority } from '../../workers/thread';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import type { JobProgress } from './job.entity';
import type { JobContext } from './job-handler';

type ThreadMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'result'; result: Record<string, unknown> }
  | { type: 'error'; message: string };

interface ThreadData {
  data: unknown;
  checkpointDir: string;
  attempt: number;
  cancelFlag: SharedArrayBuffer;
  nice: number;
}

export class JobThreadCancelledError extends Error {
  constructor() {
    super('cancelled: the job thread was stopped before it returned a partial result');
    this.name = 'JobThreadCancelledError';
  }
}

/** Starts `entry` (.ts sources through @swc-node/register in a checkout, .js in dist/). */
function spawn(entry: string, data: ThreadData): Worker {
  if (path.extname(entry) === '.ts') {
    const code = `require('@swc-node/register'); require(${JSON.stringify(entry)});`;
    return new Worker(code, { eval: true, workerData: data });
  }
  return new Worker(entry, { workerData: data });
}

/** The worker file next to `dir` with the running extension (.ts under swc/Jest, .js in dist/). */
export function threadEntry(dir: string, baseName: string): string {
  return path.join(dir, `${baseName}${path.extname(__filename)}`);
}

export function runInJobThread<R extends Record<string, unknown>>(
  entry: string,
  data: unknown,
  ctx: JobContext,
  options: { graceMs?: number } = {},
): Promise<R> {
  const cancelFlag = new SharedArrayBuffer(4);
  const worker = spawn(entry, {
    data,
    checkpointDir: ctx.checkpointDir,
    attempt: ctx.attempt,
    cancelFlag,
    nice: ctx.threadNice ?? 0,
  });
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      ctx.signal.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = (): void => {
      Atomics.store(new Int32Array(cancelFlag), 0, 1);
      worker.postMessage({ type: 'cancel' });
      // Terminated before rejecting: the caller may then read what the thread left on disk.
      killTimer = setTimeout(() => {
        void worker.terminate().finally(() => settle(() => reject(new JobThreadCancelledError())));
      }, options.graceMs ?? 3500);
    };
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: ThreadMessage) => {
      if (message.type === 'progress') ctx.reportProgress(message.progress);
      else if (message.type === 'result') settle(() => resolve(message.result as R));
      else if (message.type === 'error') settle(() => reject(new Error(message.message)));
    });
    worker.on('error', (error) => settle(() => reject(error)));
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`job thread exited with code ${code} before answering`))),
    );
  });
}

/** The thread side: what a job's work function sees. */
export interface JobThreadContext {
  reportProgress(progress: JobProgress): void;
  /** True once the job is cancelled; cheap enough to check between training steps. */
  cancelled(): boolean;
  signal: AbortSignal;
  checkpointDir: string;
  attempt: number;
}

/** Call once at the top level of a worker file: runs `work` on the thread's data and answers. */
export function serveJobThread(
  work: (data: unknown, thread: JobThreadContext) => Promise<Record<string, unknown>>,
): void {
  if (isMainThread || !parentPort)
    throw new Error('serveJobThread must run inside a worker thread');
  const port = parentPort;
  const input = workerData as ThreadData;
  const flag = new Int32Array(input.cancelFlag);
  const controller = new AbortController();
  port.on('message', (message: { type: string }) => {
    if (message.type === 'cancel') controller.abort();
  });
  lowerThreadPriority(input.nice);
  const thread: JobThreadContext = {
    reportProgress: (progress) => port.postMessage({ type: 'progress', progress }),
    cancelled: () => Atomics.load(flag, 0) === 1,
    signal: controller.signal,
    checkpointDir: input.checkpointDir,
    attempt: input.attempt,
  };
  work(input.data, thread)
    .then((result) => port.postMessage({ type: 'result', result }))
    .catch((error: unknown) =>
      port.postMessage({
        type: 'error',
        message: error instanceof Error ? error.message : String(error),
      }),
    );
  // No port.close(): the parent terminates the thread once it has the answer.
}
