import type TestAgent from 'supertest/lib/agent';

/** A training request small enough for a test: 1 epoch, few steps, a few hundred MNIST images. */
export const TINY_JOB = {
  dataset: 'mnist',
  backbone: 'small-cnn',
  loss: 'triplet',
  defense: 'none',
  epochs: 1,
  batchSize: 20,
  perClass: 4,
  embeddingDim: 16,
  stepsPerEpoch: 3,
  maxTrainImages: 200,
  maxValidationImages: 40,
  maxTestImages: 100,
  robustnessSamples: 10,
  robustnessSteps: 2,
  defenseParams: { eps: 0.03 },
};

export const FINISHED = ['succeeded', 'failed', 'cancelled'];

export interface JobBody {
  id: string;
  status: string;
  progress: Record<string, unknown> | null;
  error: string | null;
  modelId: string | null;
  attempts: number;
  workerId: string | null;
  metrics: Record<string, unknown> | null;
  robustness: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls GET /v1/training-jobs/:id until `done(job)`; gives up after `limit` polls. */
export async function pollJob(
  http: () => TestAgent,
  key: string,
  id: string,
  done: (job: JobBody) => boolean,
  { everyMs = 200, limit = 1500 } = {},
): Promise<JobBody> {
  for (let i = 0; i < limit; i++) {
    const res = await http().get(`/v1/training-jobs/${id}`).set('x-api-key', key);
    if (res.status !== 200)
      throw new Error(`GET job ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    const job = res.body as JobBody;
    if (done(job)) return job;
    await sleep(everyMs);
  }
  throw new Error(`job ${id} did not reach the expected state`);
}
