import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { APP_CONFIG, AppConfig } from '../../config';
import { ReadinessRegistry } from '../health/readiness.registry';
import { Job, JobProgress } from './job.entity';
import type { AbortReason } from './job-handler';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';

/** Progress is written at most this often; the latest value always lands. */
const PROGRESS_FLUSH_MS = 400;
/** How long shutdown waits for a running job to stop before handing it back to the queue. */
const SHUTDOWN_WAIT_MS = 5000;

/**
 * The worker side of the job queue (roles `worker` and `all`): claims one queued job at a time,
 * runs its handler, beats its heartbeat, applies cancels, and hands back or fails the jobs of
 * workers that died. Every role runs the stale-job sweep, so no job stays "running" forever.
 */
@Injectable()
export class JobRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobRunner.name);
  readonly workerId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private stopping = false;
  private current: { job: Job; controller: AbortController; done: Promise<void> } | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: JobsRepository,
    private readonly jobs: JobsService,
    readiness: ReadinessRegistry,
  ) {
    readiness.register('jobs', () => ({
      up: true,
      role: this.config.role,
      worker: this.runsJobs ? this.workerId : null,
      running: this.current?.job.id ?? null,
    }));
  }

  get runsJobs(): boolean {
    return this.config.role !== 'api';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.database.kind === 'pglite' && !this.runsJobs) {
      this.logger.warn(
        'role api on embedded PGlite: no other process can run its jobs; use role all',
      );
    }
    if (this.config.database.kind === 'pglite') {
      // One process owns an embedded database: whatever it shows as running died with the last run.
      await this.report(await this.repo.recoverStale(0));
    }
    const sweepEvery = Math.max(
      this.config.jobs.heartbeatMs,
      Math.floor(this.config.jobs.staleMs / 3),
    );
    this.sweepTimer = setInterval(() => void this.sweep(), sweepEvery);
    this.sweepTimer.unref();
    if (this.runsJobs) this.loop = this.runLoop();
  }

  /** Before TypeORM closes (onApplicationShutdown), so the hand-back can still be written. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.wake?.();
    const current = this.current;
    if (current) {
      current.controller.abort('shutdown' satisfies AbortReason);
      await Promise.race([current.done, new Promise((r) => setTimeout(r, SHUTDOWN_WAIT_MS))]);
    }
    await this.loop;
  }

  /** Wakes an idle worker (a job was just enqueued in this process). */
  poke(): void {
    this.wake?.();
  }

  private async sweep(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.report(await this.repo.recoverStale(this.config.jobs.staleMs));
    } catch (error) {
      this.logger.warn(`stale-job sweep failed: ${(error as Error).message}`);
    }
  }

  private async report(recovered: Job[]): Promise<void> {
    for (const job of recovered) this.logger.warn(`job ${job.id} (${job.type}): ${job.error}`);
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      let job: Job | null = null;
      try {
        job = await this.repo.claim(this.jobs.handledTypes(), this.workerId);
      } catch (error) {
        if (!this.stopping) this.logger.warn(`claiming a job failed: ${(error as Error).message}`);
      }
      if (job) {
        await this.run(job);
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.pollTimer = setTimeout(resolve, this.config.jobs.pollMs);
      });
      this.wake = null;
      if (this.pollTimer) clearTimeout(this.pollTimer);
    }
  }

  private async run(job: Job): Promise<void> {
    const registered = this.jobs.handlerFor(job.type)!;
    const controller = new AbortController();
    const checkpointDir = path.join(this.config.dataDir, 'jobs', job.id);
    await fs.mkdir(checkpointDir, { recursive: true });
    let pending: JobProgress | null = null;
    let lastFlush = 0;
    let flushing: Promise<void> = Promise.resolve();
    const flush = (): void => {
      if (!pending) return;
      const progress = pending;
      pending = null;
      lastFlush = Date.now();
      flushing = flushing
        .then(() => this.repo.saveProgress(job.id, this.workerId, progress))
        .catch((error: Error) => this.logger.warn(`progress of ${job.id}: ${error.message}`));
    };
    let flushTimer: NodeJS.Timeout | null = null;
    // Reports merge: fields a report leaves out keep their last value (epoch, total, ...).
    let latest: JobProgress = job.progress ?? {};
    const reportProgress = (progress: JobProgress): void => {
      latest = { ...latest, ...progress };
      pending = latest;
      if (Date.now() - lastFlush >= PROGRESS_FLUSH_MS) flush();
      else flushTimer ??= setTimeout(() => ((flushTimer = null), flush()), PROGRESS_FLUSH_MS);
    };
    const beat = setInterval(() => {
      this.repo
        .heartbeat(job.id, this.workerId)
        .then((state) => {
          if (!state) controller.abort('lost' satisfies AbortReason);
          else if (state.cancelRequested) controller.abort('cancel' satisfies AbortReason);
        })
        .catch((error: Error) => this.logger.warn(`heartbeat of ${job.id}: ${error.message}`));
    }, this.config.jobs.heartbeatMs);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    this.current = { job, controller, done };
    this.jobs.trackLocal(job.id, controller);
    this.logger.log(`job ${job.id} (${job.type}) attempt ${job.attempts} on ${this.workerId}`);
    let outcome: { status: Job['status']; result?: Record<string, unknown> | null; error?: string };
    try {
      const result = await registered.handler(job, {
        reportProgress,
        signal: controller.signal,
        checkpointDir,
        attempt: job.attempts,
        threadNice: this.config.jobs.threadNice,
      });
      outcome = controller.signal.aborted
        ? { status: 'cancelled', result, error: this.abortMessage(controller.signal.reason) }
        : { status: 'succeeded', result };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      outcome = controller.signal.aborted
        ? { status: 'cancelled', error: this.abortMessage(controller.signal.reason) }
        : { status: 'failed', error: message };
    } finally {
      clearInterval(beat);
      if (flushTimer) clearTimeout(flushTimer);
      flush();
      await flushing;
      this.jobs.trackLocal(job.id, null);
    }
    try {
      const reason = controller.signal.reason as AbortReason | undefined;
      if (reason === 'shutdown') {
        await this.repo.release(
          job.id,
          this.workerId,
          'interrupted by a shutdown; queued again, to resume from its last checkpoint if it wrote one',
        );
      } else if (reason !== 'lost') {
        await this.repo.finish(job.id, this.workerId, outcome);
      }
      this.logger.log(
        `job ${job.id} (${job.type}) ${reason === 'shutdown' ? 'handed back' : outcome.status}`,
      );
    } catch (error) {
      this.logger.error(`recording the outcome of ${job.id} failed: ${(error as Error).message}`);
    } finally {
      this.current = null;
      finish();
    }
  }

  private abortMessage(reason: unknown): string {
    if (reason === 'lost') return 'the job was taken from this worker (heartbeat went stale)';
    if (reason === 'shutdown') return 'interrupted by a shutdown';
    return 'cancelled by request';
  }
}
