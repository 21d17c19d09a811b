import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config';
import { Job, JobStatus } from './job.entity';
import type { Page } from '../../common/paging';
import type { AbortReason, JobHandler, JobHandlerOptions } from './job-handler';
import { JobsRepository } from './jobs.repository';

interface RegisteredHandler {
  handler: JobHandler;
  options: JobHandlerOptions;
}

/**
 * The job queue's public face. Features enqueue jobs of their type and register one handler per
 * type (in their service's constructor or onModuleInit); worker processes run the handlers (JobRunner).
 */
@Injectable()
export class JobsService {
  private readonly handlers = new Map<string, RegisteredHandler>();
  /** Jobs running in this process, so a cancel arriving here stops them at once. */
  private readonly local = new Map<string, AbortController>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repo: JobsRepository,
  ) {}

  registerHandler(type: string, handler: JobHandler, options: JobHandlerOptions = {}): void {
    if (this.handlers.has(type))
      throw new Error(`a handler for job type '${type}' is registered twice`);
    this.handlers.set(type, { handler, options });
  }

  handlerFor(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  handledTypes(): string[] {
    return [...this.handlers.keys()];
  }

  async enqueue(type: string, payload: Record<string, unknown>): Promise<Job> {
    const maxAttempts =
      this.handlers.get(type)?.options.maxAttempts ?? this.config.jobs.maxAttempts;
    return this.repo.insert(type, payload, maxAttempts);
  }

  /** The job, or 404; `type` also 404s a job of another type (a probe id on the training API). */
  async get(id: string, type?: string): Promise<Job> {
    const job = UUID.test(id) ? await this.repo.findById(id) : null;
    if (!job || (type && job.type !== type)) {
      throw new NotFoundException(`No ${type ? `${type} ` : ''}job with id ${id}`);
    }
    return job;
  }

  /** A page of jobs, newest first. */
  async list(
    filter: { type?: string; status?: JobStatus },
    page: number,
    limit: number,
  ): Promise<Page<Job>> {
    const [items, total] = await this.repo.list(filter, page, limit);
    return { items, total, page, limit };
  }

  /**
   * Cancels a job: a queued one at once; a running one is flagged, and its worker (this process or
   * another, through its heartbeat) stops it and keeps what it had. Finished jobs are left as they are.
   */
  async cancel(id: string, type?: string): Promise<Job> {
    await this.get(id, type);
    const job = (await this.repo.requestCancel(id))!;
    this.local.get(id)?.abort('cancel' satisfies AbortReason);
    return job;
  }

  /** Used by JobRunner: tracks a job running here. */
  trackLocal(id: string, controller: AbortController | null): void {
    if (controller) this.local.set(id, controller);
    else this.local.delete(id);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
