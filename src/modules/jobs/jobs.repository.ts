import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'crypto';
import { Repository } from 'typeorm';
import { Job, JobProgress, JobStatus } from './job.entity';

/** Raw rows come back snake_case; this maps them onto the entity's property names. */
function fromRow(row: Record<string, unknown>): Job {
  return Object.assign(new Job(), {
    id: row.id,
    type: row.type,
    status: row.status,
    payload: row.payload,
    progress: row.progress,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    cancelRequested: row.cancel_requested,
    workerId: row.worker_id,
    heartbeatAt: row.heartbeat_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  });
}

/** The UPDATE ... RETURNING result of the pg driver is [rows, count]; PGlite's driver gives the same. */
function returnedRows(result: unknown): Record<string, unknown>[] {
  if (Array.isArray(result) && Array.isArray(result[0]))
    return result[0] as Record<string, unknown>[];
  return (result as Record<string, unknown>[]) ?? [];
}

@Injectable()
export class JobsRepository {
  constructor(@InjectRepository(Job) private readonly repo: Repository<Job>) {}

  async insert(type: string, payload: Record<string, unknown>, maxAttempts: number): Promise<Job> {
    const id = randomUUID();
    await this.repo.query(
      `INSERT INTO jobs (id, type, status, payload, max_attempts) VALUES ($1, $2, 'queued', $3::jsonb, $4)`,
      [id, type, JSON.stringify(payload), maxAttempts],
    );
    return (await this.findById(id))!;
  }

  findById(id: string): Promise<Job | null> {
    return this.repo.findOne({ where: { id } });
  }

  list(
    filter: { type?: string; status?: JobStatus },
    page: number,
    limit: number,
  ): Promise<[Job[], number]> {
    return this.repo.findAndCount({
      where: filter,
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: (page - 1) * limit,
      take: limit,
    });
  }

  /**
   * Hands the oldest queued job of the given types to `workerId`. FOR UPDATE SKIP LOCKED makes two
   * workers claiming at once take different rows: each job goes to exactly one worker.
   */
  async claim(types: string[], workerId: string): Promise<Job | null> {
    if (types.length === 0) return null;
    const result: unknown = await this.repo.query(
      `UPDATE jobs SET status = 'running', worker_id = $2, attempts = attempts + 1,
              heartbeat_at = now(), started_at = COALESCE(started_at, now())
        WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND type = ANY($1)
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [types, workerId],
    );
    const rows = returnedRows(result);
    return rows.length ? fromRow(rows[0]) : null;
  }

  /** Beats for a job this worker still owns; returns whether a cancel was asked, or null if it lost it. */
  async heartbeat(id: string, workerId: string): Promise<{ cancelRequested: boolean } | null> {
    const result: unknown = await this.repo.query(
      `UPDATE jobs SET heartbeat_at = now() WHERE id = $1 AND worker_id = $2 AND status = 'running'
        RETURNING cancel_requested`,
      [id, workerId],
    );
    const rows = returnedRows(result);
    return rows.length ? { cancelRequested: rows[0].cancel_requested === true } : null;
  }

  async saveProgress(id: string, workerId: string, progress: JobProgress): Promise<void> {
    await this.repo.query(
      `UPDATE jobs SET progress = $3::jsonb WHERE id = $1 AND worker_id = $2 AND status = 'running'`,
      [id, workerId, JSON.stringify(progress)],
    );
  }

  /** Records the outcome of a run, only if this worker still owns the job. */
  async finish(
    id: string,
    workerId: string,
    outcome: { status: JobStatus; result?: Record<string, unknown> | null; error?: string | null },
  ): Promise<boolean> {
    const result: unknown = await this.repo.query(
      `UPDATE jobs SET status = $3, result = COALESCE($4::jsonb, result), error = $5,
              finished_at = now(), heartbeat_at = now()
        WHERE id = $1 AND worker_id = $2 AND status = 'running' RETURNING id`,
      [
        id,
        workerId,
        outcome.status,
        outcome.result ? JSON.stringify(outcome.result) : null,
        outcome.error ?? null,
      ],
    );
    return returnedRows(result).length > 0;
  }

  /** Hands a job back to the queue (its worker is shutting down); the interrupted run costs no attempt. */
  async release(id: string, workerId: string, reason: string): Promise<void> {
    await this.repo.query(
      `UPDATE jobs SET status = 'queued', worker_id = NULL, error = $3,
              attempts = GREATEST(attempts - 1, 0)
        WHERE id = $1 AND worker_id = $2 AND status = 'running'`,
      [id, workerId, reason],
    );
  }

  /** A queued job is cancelled at once; a running one is flagged for its worker. */
  async requestCancel(id: string): Promise<Job | null> {
    await this.repo.query(
      `UPDATE jobs SET status = 'cancelled', finished_at = now(), error = 'cancelled before it started'
        WHERE id = $1 AND status = 'queued'`,
      [id],
    );
    await this.repo.query(
      `UPDATE jobs SET cancel_requested = true WHERE id = $1 AND status = 'running'`,
      [id],
    );
    return this.findById(id);
  }

  /**
   * Jobs whose worker stopped beating: cancelled if a cancel was asked, queued again (to resume
   * from their checkpoint) while attempts remain, failed with the reason otherwise. `onlyWorker`
   * limits it to one worker id (embedded mode: the previous run of this very process).
   */
  async recoverStale(staleMs: number, onlyWorker?: string): Promise<Job[]> {
    const staleCondition = onlyWorker
      ? `worker_id = $2`
      : `heartbeat_at < now() - ($1::integer * interval '1 millisecond')`;
    const params: unknown[] = onlyWorker ? [staleMs, onlyWorker] : [staleMs];
    const result: unknown = await this.repo.query(
      `UPDATE jobs SET
          status = CASE WHEN cancel_requested THEN 'cancelled'
                        WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
          error = CASE WHEN cancel_requested THEN 'cancelled; its worker stopped before it could confirm'
                       WHEN attempts < max_attempts THEN
                         'worker ' || COALESCE(worker_id, '?') || ' stopped (no heartbeat since ' ||
                         to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ||
                         '); queued again, to resume from its last checkpoint if it wrote one'
                       ELSE 'worker ' || COALESCE(worker_id, '?') || ' stopped (no heartbeat since ' ||
                         to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ||
                         ') and the job has used all ' || max_attempts || ' attempts' END,
          finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN now() ELSE NULL END,
          worker_id = CASE WHEN cancel_requested OR attempts >= max_attempts THEN worker_id ELSE NULL END
        WHERE status = 'running' AND ${staleCondition}
        RETURNING *`,
      params,
    );
    return returnedRows(result).map(fromRow);
  }
}
