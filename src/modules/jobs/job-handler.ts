import type { Job, JobProgress } from './job.entity';

/** What a handler gets besides its job row. */
export interface JobContext {
  /** Stores the job's progress (written at most every few hundred ms; the last call always lands). */
  reportProgress(progress: JobProgress): void;
  /**
   * Aborted when the job is cancelled, when its worker shuts down or loses the job. On cancel a
   * handler should stop within a second or two and resolve with what it kept (stored as `result`).
   */
  signal: AbortSignal;
  /** DATA_DIR/jobs/<id>: persists across attempts, so a resumed run finds its checkpoints here. */
  checkpointDir: string;
  /** 1 on the first run, more when resuming after a worker died or the service restarted. */
  attempt: number;
  /** Nice value for the job's worker thread (JOB_THREAD_NICE); 0 keeps the caller's priority. */
  threadNice?: number;
}

/**
 * Runs one job and resolves with its result (stored as jsonb). Heavy work must not run on the
 * caller's event loop: run it in a worker thread with `runThread` (src/workers/thread.ts), passing
 * the context's `signal`, `threadNice` and progress.
 */
export type JobHandler = (job: Job, ctx: JobContext) => Promise<Record<string, unknown>>;

export interface JobHandlerOptions {
  /** Runs before a job of this type dies for good (first run + resumes). Default JOB_MAX_ATTEMPTS. */
  maxAttempts?: number;
}

/** Why a running job's signal was aborted. */
export type AbortReason = 'cancel' | 'shutdown' | 'lost';
