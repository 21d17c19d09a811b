/**
 * A job as every job route shows it: the one mapping from a jobs row to its view. The feature views
 * (training jobs, probes) are this view plus what their type adds.
 */
import { ApiProperty } from '@nestjs/swagger';
import { JOB_STATUSES, type Job, type JobProgress, type JobStatus } from './job.entity';

const iso = (date: Date | string | null): string | null =>
  date ? new Date(date).toISOString() : null;

export class JobViewDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description:
      'What the running job reports (phase, fraction or epoch/step, etaSeconds, message, ...); null before it starts',
  })
  progress!: JobProgress | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why it failed' })
  error!: string | null;
  @ApiProperty({ description: 'A cancel was asked and the worker has not stopped the job yet' })
  cancelRequested!: boolean;
  @ApiProperty({ description: 'Runs started (a job whose worker died is run again)' })
  attempts!: number;
  @ApiProperty({ type: String, nullable: true, description: 'The process running it' })
  workerId!: string | null;
  @ApiProperty({ description: 'ISO 8601' }) createdAt!: string;
  @ApiProperty({ type: String, nullable: true }) startedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) finishedAt!: string | null;
}

export function jobView(job: Job): JobViewDto {
  return {
    id: job.id,
    status: job.status,
    progress: job.progress,
    error: job.error,
    cancelRequested: job.cancelRequested,
    attempts: job.attempts,
    workerId: job.workerId,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
  };
}

/** What POST answers when it queues a job. */
export class JobAcceptedDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
}
