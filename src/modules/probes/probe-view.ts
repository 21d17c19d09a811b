/** What the probe routes answer: a probe job as its view (GET /v1/probes/:id) and its summary (the list). */
import type { Job, JobStatus } from '../jobs';
import type { ProbeConfig } from './runner/probe-config';
import type { ProbeReport } from './runner/probe-report';

export interface ProbeView {
  id: string;
  status: JobStatus;
  config: ProbeConfig;
  progress: Job['progress'];
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  report: ProbeReport | null;
}

export type ProbeSummary = Omit<ProbeView, 'report'> & {
  summary: {
    cleanRecallAt1: number;
    adversarialRecallAt1: number | null;
    ers: number | null;
    warnings: number;
  } | null;
};

const iso = (date: Date | string | null): string | null =>
  date ? new Date(date).toISOString() : null;

export function probeView(job: Job): ProbeView {
  const result = job.result as { report?: ProbeReport } | null;
  return {
    id: job.id,
    status: job.status,
    config: (job.payload as { config: ProbeConfig }).config,
    progress: job.progress,
    error: job.error,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    report: result?.report ?? null,
  };
}

/** The view without its report, with the report's headline figures. */
export function probeSummary(job: Job): ProbeSummary {
  const { report, ...view } = probeView(job);
  return {
    ...view,
    summary: report
      ? {
          cleanRecallAt1: report.clean.recallAt1,
          adversarialRecallAt1: report.adversarialRecallAt1,
          ers: report.ers,
          warnings: report.sanity.warnings.length,
        }
      : null,
  };
}
