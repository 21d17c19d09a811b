export { JobsModule } from './jobs.module';
export { JobsService } from './jobs.service';
export { jobView, JobViewDto, JobAcceptedDto } from './job-view';
export { JobRunner } from './job-runner.service';
export {
  Job,
  JOB_STATUSES,
  FINISHED_STATUSES,
  type JobStatus,
  type JobProgress,
} from './job.entity';
export type { JobContext, JobHandler, JobHandlerOptions } from './job-handler';
