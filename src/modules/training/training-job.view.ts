import { Job } from '../jobs';
import type { TrainingJobResult, TrainingJobSpec } from './training-spec';

/** A training job as the API shows it. */
export interface TrainingJobView {
  id: string;
  status: Job['status'];
  /** The validated request. */
  spec: TrainingJobSpec;
  /** epoch, epochs, step, total, loss, imagesPerSecond, etaSeconds, phase, message. */
  progress: Job['progress'];
  /** Natural retrieval metrics on the held-out classes (when finished). */
  metrics: Record<string, unknown> | null;
  /** R@1 under the ES attack at the job's eps on held-out queries (when finished). */
  robustness: Record<string, unknown> | null;
  /** The registered model version (deploy it with POST /v1/models/:id/deploy). */
  modelId: string | null;
  result: TrainingJobResult | null;
  error: string | null;
  /** A cancel was asked and the job's worker has not stopped it yet. */
  cancelRequested: boolean;
  attempts: number;
  workerId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const iso = (date: Date | string | null): string | null =>
  date ? new Date(date).toISOString() : null;

export function toTrainingJobView(job: Job): TrainingJobView {
  const result = job.result as TrainingJobResult | null;
  return {
    id: job.id,
    status: job.status,
    spec: job.payload as unknown as TrainingJobSpec,
    progress: job.progress,
    metrics: result?.metrics ?? null,
    robustness: result?.robustness ?? null,
    modelId: result?.modelId ?? null,
    result,
    error: job.error,
    cancelRequested: job.cancelRequested,
    attempts: job.attempts,
    workerId: job.workerId,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
  };
}
