import request from 'supertest';
import { FINISHED, JobBody, TINY_JOB } from '../training/helpers';
import { Cluster, ServeProcess, startCluster } from './processes';

const serverUrl = process.env.DATABASE_URL;
const describeWithPostgres = serverUrl ? describe : describe.skip;
if (!serverUrl) {
  console.warn('test/jobs/scale-out: skipped: set DATABASE_URL to a PostgreSQL server to run it');
}

const JOBS = 20;
/** Smaller still than TINY_JOB: twenty of them run on two worker processes. */
const MINI_JOB = {
  ...TINY_JOB,
  stepsPerEpoch: 1,
  maxTrainImages: 40,
  maxValidationImages: 8,
  maxTestImages: 40,
  robustnessSamples: 4,
  robustnessSteps: 1,
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('two API and two worker processes on one PostgreSQL', () => {
  let cluster: Cluster;
  let apis: ServeProcess[];
  let workers: ServeProcess[];

  beforeAll(async () => {
    cluster = await startCluster(serverUrl!, {
      JOB_POLL_MS: '200',
      JOB_HEARTBEAT_MS: '300',
      JOB_STALE_MS: '5000',
    });
    // The first process runs the migrations; the others start on an up-to-date schema.
    const first = await cluster.startApi();
    const rest = await Promise.all([
      cluster.startApi(),
      cluster.startWorker(),
      cluster.startWorker(),
    ]);
    apis = [first, rest[0]];
    workers = rest.slice(1);
  }, 300_000);
  afterAll(() => cluster?.close());

  const get = (api: ServeProcess, id: string) =>
    request(api.url).get(`/v1/training-jobs/${id}`).set('x-api-key', cluster.adminKey);

  it(`runs ${JOBS} jobs exactly once each, all to completion, progress visible from either API`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const res = await request(apis[i % 2].url)
        .post('/v1/training-jobs')
        .set('x-api-key', cluster.adminKey)
        .send({ ...MINI_JOB, seed: i });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    let sawRunningFromBoth = false;
    let finished: JobBody[] = [];
    for (let poll = 0; poll < 3000 && finished.length < JOBS; poll++) {
      const views = await Promise.all(ids.map((id) => get(apis[poll % 2], id)));
      const jobs = views.map((res) => res.body as JobBody);
      const running = jobs.find((job) => job.status === 'running' && job.progress !== null);
      if (running && !sawRunningFromBoth) {
        // The same running job, read through the other API process, shows its progress too.
        const other = (await get(apis[(poll + 1) % 2], running.id)).body as JobBody;
        if (other.status === 'running' && other.progress !== null) sawRunningFromBoth = true;
      }
      finished = jobs.filter((job) => FINISHED.includes(job.status));
      if (finished.length < JOBS) await sleep(250);
    }
    expect(finished).toHaveLength(JOBS);
    for (const job of finished) {
      expect({ id: job.id, status: job.status, error: job.error }).toEqual({
        id: job.id,
        status: 'succeeded',
        error: null,
      });
      // Claimed once, run once: no job was handed to a second worker.
      expect(job.attempts).toBe(1);
      expect(job.modelId).toBe(`train-${job.id}`);
    }
    expect(sawRunningFromBoth).toBe(true);
    const workerIds = new Set(finished.map((job) => job.workerId));
    expect(workerIds.size).toBe(2);
    const pids = [...workerIds].map((id) => Number(String(id).split(':')[1]));
    expect(pids.sort()).toEqual(workers.map((w) => w.child.pid).sort());
    // Every job registered exactly its own model version, visible from both APIs.
    for (const api of apis) {
      const models = await request(api.url).get('/v1/models').set('x-api-key', cluster.adminKey);
      const trained = (models.body.items as { id: string }[]).filter((m) =>
        m.id.startsWith('train-'),
      );
      expect(trained.map((m) => m.id).sort()).toEqual(ids.map((id) => `train-${id}`).sort());
    }
  }, 900_000);
});
