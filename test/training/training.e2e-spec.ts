import { promises as fs } from 'fs';
import * as path from 'path';
import { deployAndWait, tinyPng, writeTinyModel } from '../search/fixtures';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { countRates, ratesOutsideUnit } from '../utils/rates';
import { FINISHED, pollJob, TINY_JOB } from './helpers';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { JOB_POLL_MS: '100', JOB_HEARTBEAT_MS: '200' } });
});
afterAll(() => t?.close());

const post = (body: Record<string, unknown>) =>
  t.http.post('/v1/training-jobs').set('x-api-key', t.adminKey).send(body);

describe('training jobs (embedded mode, in-process worker thread)', () => {
  it('trains a tiny model, reports progress and registers the model version', async () => {
    const res = await post(TINY_JOB);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), status: 'queued' });
    const job = await pollJob(
      () => t.http,
      t.adminKey,
      res.body.id,
      (j) => FINISHED.includes(j.status),
    );
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.attempts).toBe(1);
    expect(job.progress).toMatchObject({ total: 3 });
    expect(job.modelId).toBe(`train-${job.id}`);
    const metrics = job.metrics as { recallAt1: number };
    expect(metrics.recallAt1).toBeGreaterThan(0);
    expect(metrics.recallAt1).toBeLessThanOrEqual(1);
    const robustness = job.robustness as {
      recallAt1UnderAttack: number;
      naturalRecallAt1: number;
      eps: number;
      samples: number;
      chanceRecallAt1: number;
      estimates: Record<string, { value: number; low: number; high: number; n: number }>;
    };
    expect(robustness.eps).toBeCloseTo(0.03);
    expect(robustness.samples).toBe(10);
    expect(robustness.recallAt1UnderAttack).toBeGreaterThanOrEqual(0);
    expect(robustness.recallAt1UnderAttack).toBeLessThanOrEqual(1);
    // Every rate of the job (metrics, the ES figure, their intervals and chance) is a fraction in [0, 1].
    expect(ratesOutsideUnit({ metrics: job.metrics, robustness, result: job.result })).toEqual([]);
    expect(countRates(robustness)).toBeGreaterThanOrEqual(9);
    // Each R@1 with its n, 95% interval and the chance level of the held-out gallery.
    for (const key of ['naturalRecallAt1', 'recallAt1UnderAttack'] as const) {
      const e = robustness.estimates[key];
      expect(e).toMatchObject({
        n: 10,
        value: robustness[key],
        chance: robustness.chanceRecallAt1,
      });
      expect(e.low).toBeLessThanOrEqual(e.value);
      expect(e.high).toBeGreaterThanOrEqual(e.value);
    }
    expect(robustness.estimates.embeddingShift).toMatchObject({ n: 10, method: 'bootstrap' });
    expect(robustness.chanceRecallAt1).toBeGreaterThan(0);

    const model = await t.http.get(`/v1/models/${job.modelId}`).set('x-api-key', t.adminKey);
    expect(model.status).toBe(200);
    const manifest = model.body.manifest as {
      metrics: { robustness: unknown };
      embeddingDim: number;
    };
    expect(manifest.embeddingDim).toBe(16);
    expect(manifest.metrics.robustness).toEqual(job.robustness);
    // The manifest's robustness block: the bounded quick suite (all nine attacks), labelled as such.
    const block = model.body.robustness;
    expect(model.body.manifest.robustness).toEqual(block);
    expect(ratesOutsideUnit(model.body)).toEqual([]);
    expect(block).toMatchObject({
      budget: 'quick suite',
      weightsSha256: model.body.manifest.weightsSha256,
      chance: { recallAt1: robustness.chanceRecallAt1 },
      attack: { eps: 0.03, steps: 2, restarts: 1, sampleSize: 10, strengthChecks: false },
      natural: {
        recallAt1: {
          value: robustness.naturalRecallAt1,
          low: robustness.estimates.naturalRecallAt1.low,
          high: robustness.estimates.naturalRecallAt1.high,
          n: 10,
        },
      },
      adversarial: {
        esR: { value: robustness.recallAt1UnderAttack, n: 10, method: 'wilson' },
        ltm: { n: 10, method: 'wilson' },
        gtm: { n: 10, method: 'wilson' },
        worstRecallAt1: { n: 10 },
        ers: { n: 10, method: 'bootstrap' },
      },
    });
    expect(block.attack.attacks).toHaveLength(9);
    expect(block.command).toContain(`training job ${job.id} (POST /v1/training-jobs): quick suite`);

    const list = await t.http
      .get('/v1/training-jobs?status=succeeded')
      .set('x-api-key', t.adminKey);
    expect(list.status).toBe(200);
    expect(list.body.items.map((j: { id: string }) => j.id)).toContain(job.id);
    const none = await t.http.get('/v1/training-jobs?status=failed').set('x-api-key', t.adminKey);
    expect(none.body).toMatchObject({ items: [], total: 0 });
  });

  it('cancels a running job within 5 s and keeps its finished epochs', async () => {
    // Robust training (PGD in every step): the cancel lands during a step, as it mostly would.
    const res = await post({
      ...TINY_JOB,
      defense: 'est',
      defenseParams: { eps: 0.03, steps: 2 },
      epochs: 50,
      stepsPerEpoch: 8,
    });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    // Training in epoch 2: epoch 1 has been checkpointed.
    await pollJob(
      () => t.http,
      t.adminKey,
      id,
      (j) => j.progress?.phase === 'train' && Number(j.progress?.epoch ?? 0) >= 2,
      { everyMs: 100, limit: 3000 },
    );
    const requested = Date.now();
    const cancel = await t.http.post(`/v1/training-jobs/${id}/cancel`).set('x-api-key', t.adminKey);
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancelRequested).toBe(true);
    const job = await pollJob(
      () => t.http,
      t.adminKey,
      id,
      (j) => FINISHED.includes(j.status),
      {
        everyMs: 100,
        limit: 200,
      },
    );
    const tookMs = Date.now() - requested;
    expect(job.status).toBe('cancelled');
    expect(job.error).toBe('cancelled by request');
    expect(tookMs).toBeLessThan(5000);
    const kept = job.result as { epochsCompleted: number; checkpointDir: string };
    expect(kept.epochsCompleted).toBeGreaterThanOrEqual(1);
    await expect(fs.stat(path.join(kept.checkpointDir, 'manifest.json'))).resolves.toBeTruthy();
    expect(job.modelId).toBeNull();
  });

  it('cancels a queued job at once and ignores a cancel of a finished one', async () => {
    const [first, second] = await Promise.all([post(TINY_JOB), post(TINY_JOB)]);
    const cancel = await t.http
      .post(`/v1/training-jobs/${second.body.id}/cancel`)
      .set('x-api-key', t.adminKey);
    expect(cancel.status).toBe(202);
    expect(['cancelled', 'running']).toContain(cancel.body.status);
    const done = await pollJob(
      () => t.http,
      t.adminKey,
      first.body.id,
      (j) => FINISHED.includes(j.status),
    );
    expect(done.status).toBe('succeeded');
    const again = await t.http
      .post(`/v1/training-jobs/${first.body.id}/cancel`)
      .set('x-api-key', t.adminKey);
    expect(again.body.status).toBe('succeeded');
  });

  it('hands a running job back at shutdown and resumes it from its checkpoint after a restart', async () => {
    const res = await post({
      ...TINY_JOB,
      defense: 'est',
      defenseParams: { eps: 0.03, steps: 4 },
      epochs: 3,
      stepsPerEpoch: 8,
    });
    const id = res.body.id as string;
    await pollJob(
      () => t.http,
      t.adminKey,
      id,
      (j) => j.progress?.phase === 'train' && Number(j.progress?.epoch ?? 0) === 2,
      { everyMs: 100, limit: 3000 },
    );
    t = await t.restart();
    const job = await pollJob(
      () => t.http,
      t.adminKey,
      id,
      (j) => FINISHED.includes(j.status),
    );
    expect(job.status).toBe('succeeded');
    // The interrupted run cost no attempt.
    expect(job.attempts).toBe(1);
    const resumed = (job.result as { resumedFromEpoch: number }).resumedFromEpoch;
    expect(resumed).toBeGreaterThanOrEqual(1);
    expect(resumed).toBeLessThan(3);
  });

  it("trains on the gallery's labelled images", async () => {
    await writeTinyModel(t.config.dataDir, 'tiny', 1);
    await deployAndWait(t, 'tiny');
    for (const label of ['a', 'b', 'c', 'd']) {
      let upload = t.http
        .post('/v1/gallery/images')
        .set('x-api-key', t.adminKey)
        .field('label', label);
      for (let i = 0; i < 4; i++) {
        const seed = label.charCodeAt(0) * 10 + i;
        upload = upload.attach('files', await tinyPng(seed, 16), `${seed}.png`);
      }
      expect((await upload).status).toBe(201);
    }
    const res = await post({
      ...TINY_JOB,
      dataset: 'gallery',
      imageSize: 16,
      batchSize: 4,
      perClass: 2,
      stepsPerEpoch: 2,
      maxTrainImages: undefined,
      maxValidationImages: undefined,
      maxTestImages: undefined,
      robustnessSamples: 4,
    });
    expect(res.status).toBe(202);
    const job = await pollJob(
      () => t.http,
      t.adminKey,
      res.body.id,
      (j) => FINISHED.includes(j.status),
    );
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    const model = await t.http.get(`/v1/models/${job.modelId}`).set('x-api-key', t.adminKey);
    const manifest = model.body.manifest as {
      inputShape: number[];
      dataset: { trainClasses: number[]; testClasses: number[] };
    };
    expect(manifest.inputShape).toEqual([16, 16, 1]);
    expect(manifest.dataset.trainClasses).toEqual([0, 1]);
    expect(manifest.dataset.testClasses).toEqual([2, 3]);
  });
});
