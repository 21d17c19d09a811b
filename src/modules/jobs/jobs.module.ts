import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Job } from './job.entity';
import { JobRunner } from './job-runner.service';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';

/**
 * The generic job queue (see docs/ARCHITECTURE.md, "Jobs"): a features imports JobsModule, enqueues
 * with JobsService.enqueue and registers its handler with JobsService.registerHandler.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Job])],
  providers: [JobsRepository, JobsService, JobRunner],
  exports: [JobsService, JobRunner],
})
export class JobsModule {}
