import request from 'supertest';
import { FINISHED, JobBody, pollJob, TINY_JOB } from '../training/helpers';
import { Cluster, ServeProcess, startCluster } from './processes';

const serverUrl = process.env.DATABASE_URL;
const describeWithPostgres = serverUrl ? describe : describe.skip;
if (!serverUrl) {
  console.warn(
    'test/jobs/worker-crash: skipped: set DATABASE_URL to a PostgreSQL server to run it',
  );
}

/**
 * Long enough to kill mid-way: several epochs, each checkpointed. The kill waits for a window of
 * STEPS_PER_EPOCH - 2 training steps early in epoch 2, seen by polling every 100 ms: with 8 steps a quiet
 * machine ran the whole window between two polls and the job finished first (the poll never saw it).
 */
const STEPS_PER_EPOCH = 40;
/** Robust training (PGD in every step) makes the steps, not the checkpoint writes, fill an epoch. */
const LONG_JOB = {
  ...TINY_JOB,
  defense: 'est',
  defenseParams: { eps: 0.03, steps: 4 },
  epochs: 3,
  stepsPerEpoch: STEPS_PER_EPOCH,
};

/** Early in epoch 2's training steps: epoch 1's checkpoint is complete, epoch 2's not begun. */
function earlyInSecondEpoch(job: JobBody): boolean {
  const progress = job.progress ?? {};
  const epoch = Number(progress.epoch ?? 0);
  const stepInEpoch = Number(progress.step ?? 0) - STEPS_PER_EPOCH * (epoch - 1);
  return progress.phase === 'train' && epoch === 2 && stepInEpoch <= STEPS_PER_EPOCH - 2;
}

describeWithPostgres('kill -9 of a worker process in the middle of a job', () => {
  let cluster: Cluster;
  let api: ServeProcess;
  let strictApi: ServeProcess;

  beforeAll(async () => {
    cluster = await startCluster(serverUrl!, {
      JOB_POLL_MS: '200',
      JOB_HEARTBEAT_MS: '300',
      JOB_STALE_MS: '3000',
    });
    api = await cluster.startApi();
    // Jobs enqueued through this one get a single attempt.
    strictApi = await cluster.startApi({ JOB_MAX_ATTEMPTS: '1' });
  }, 300_000);
  afterAll(() => cluster?.close());

  const http = (proc: ServeProcess) => () => request(proc.url);

  async function startAndKillMidJob(via: ServeProcess): Promise<string> {
    const worker = await cluster.startWorker();
    const res = await request(via.url)
      .post('/v1/training-jobs')
      .set('x-api-key', cluster.adminKey)
      .send(LONG_JOB);
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    // Mid-job: one epoch checkpointed, more to go.
    const running = await pollJob(
      http(api),
      cluster.adminKey,
      id,
      (j) => (j.status !== 'running' ? FINISHED.includes(j.status) : earlyInSecondEpoch(j)),
      { everyMs: 100, limit: 3000 },
    );
    expect(running.status).toBe('running');
    expect(running.workerId).toContain(`:${worker.child.pid}:`);
    await worker.kill('SIGKILL');
    return id;
  }

  it('resumes the job on another worker from its last checkpoint', async () => {
    const id = await startAndKillMidJob(api);
    const rescuer = await cluster.startWorker();
    const job: JobBody = await pollJob(http(api), cluster.adminKey, id, (j) =>
      FINISHED.includes(j.status),
    );
    expect(job.status).toBe('succeeded');
    expect(job.attempts).toBe(2);
    expect((job.result as { resumedFromEpoch: number }).resumedFromEpoch).toBeGreaterThanOrEqual(1);
    expect(job.modelId).toBe(`train-${id}`);
    await rescuer.kill('SIGTERM');
  }, 400_000);

  it('marks the job failed with the reason when it has no attempts left', async () => {
    const id = await startAndKillMidJob(strictApi);
    // No worker is running now: the API processes' sweep notices the stale heartbeat.
    const job = await pollJob(http(api), cluster.adminKey, id, (j) => FINISHED.includes(j.status));
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(
      /^worker \S+ stopped \(no heartbeat since .+\) and the job has used all 1 attempts$/,
    );
  }, 400_000);
});
