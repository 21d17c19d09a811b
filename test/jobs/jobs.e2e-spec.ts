import { DataSource } from 'typeorm';
import { Job, JobRunner, JobsService } from '../../src/modules/jobs';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** The generic queue with handlers that do no ML: ordering, outcomes, cancel, stale recovery. */
let t: TestApp;
let jobs: JobsService;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function settled(id: string): Promise<Job> {
  for (let i = 0; i < 600; i++) {
    const job = await jobs.get(id);
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    await sleep(50);
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  t = await createTestApp({
    env: { JOB_POLL_MS: '50', JOB_HEARTBEAT_MS: '100', JOB_STALE_MS: '1000' },
  });
  jobs = t.app.get(JobsService);
  const order: number[] = [];
  jobs.registerHandler('test-echo', async (job, ctx) => {
    ctx.reportProgress({ step: 1, total: 2 });
    ctx.reportProgress({ message: 'half way' });
    order.push(job.payload.n as number);
    return { echoed: job.payload.n, attempt: ctx.attempt, order: [...order] };
  });
  jobs.registerHandler('test-fail', async () => {
    throw new Error('the data set has a single class');
  });
  jobs.registerHandler('test-wait', async (_job, ctx) => {
    let ticks = 0;
    while (!ctx.signal.aborted) {
      ticks++;
      ctx.reportProgress({ step: ticks });
      await sleep(20);
    }
    return { keptTicks: ticks };
  });
});
afterAll(() => t?.close());

describe('JobsService and JobRunner (embedded)', () => {
  it('runs jobs in order, once, and stores result and merged progress', async () => {
    const queued = [];
    for (const n of [1, 2, 3]) queued.push(await jobs.enqueue('test-echo', { n }));
    // The worker may already have claimed the first one.
    expect(queued[2].status).toBe('queued');
    const done = await Promise.all(queued.map((job) => settled(job.id)));
    expect(done.map((job) => job.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(done.map((job) => job.attempts)).toEqual([1, 1, 1]);
    expect(done[2].result).toEqual({ echoed: 3, attempt: 1, order: [1, 2, 3] });
    expect(done[0].progress).toEqual({ step: 1, total: 2, message: 'half way' });
    expect(done[0].workerId).toBe(t.app.get(JobRunner).workerId);
  });

  it('marks a job whose handler throws as failed with the message', async () => {
    const job = await settled((await jobs.enqueue('test-fail', {})).id);
    expect(job.status).toBe('failed');
    expect(job.error).toBe('the data set has a single class');
  });

  it('cancels a running job and keeps what its handler returned', async () => {
    const { id } = await jobs.enqueue('test-wait', {});
    while ((await jobs.get(id)).status !== 'running') await sleep(20);
    await sleep(100);
    await jobs.cancel(id);
    const job = await settled(id);
    expect(job.status).toBe('cancelled');
    expect(job.error).toBe('cancelled by request');
    expect((job.result as { keptTicks: number }).keptTicks).toBeGreaterThan(0);
  });

  it('404s a job of another type', async () => {
    const { id } = await jobs.enqueue('test-fail', {});
    await expect(jobs.get(id, 'training')).rejects.toThrow(`No training job with id ${id}`);
    await settled(id);
  });

  it('requeues a job whose worker stopped beating, and fails it when no attempts are left', async () => {
    const db = t.app.get(DataSource);
    const orphan = async (attempts: number) => {
      // A job claimed by a worker that has since died: no handler here runs this type.
      const { id } = await jobs.enqueue('test-orphan', {});
      await db.query(
        `UPDATE jobs SET status = 'running', worker_id = 'gone:1:abc', attempts = $2,
                heartbeat_at = now() - interval '1 hour' WHERE id = $1`,
        [id, attempts],
      );
      return id;
    };
    const resumable = await orphan(1);
    const exhausted = await orphan(3);
    for (let i = 0; i < 200; i++) {
      const [a, b] = [await jobs.get(resumable), await jobs.get(exhausted)];
      if (a.status !== 'running' && b.status !== 'running') break;
      await sleep(50);
    }
    const requeued = await jobs.get(resumable);
    expect(requeued.status).toBe('queued');
    expect(requeued.workerId).toBeNull();
    expect(requeued.error).toMatch(
      /^worker gone:1:abc stopped \(no heartbeat since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); queued again, to resume from its last checkpoint if it wrote one$/,
    );
    const failed = await jobs.get(exhausted);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/and the job has used all 3 attempts$/);
    expect(failed.finishedAt).not.toBeNull();
  });
});
