/**
 * Is the HTTP service responsive while a training job runs? Starts the service in this process
 * (embedded PGlite, role all), trains and deploys a small MNIST model, fills the gallery with MNIST
 * digits, then measures search latency (POST /v1/search with an image, from a load generator in a
 * worker thread, so the client does not share the server's event loop) and the server's event-loop
 * delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution, so 10 ms is the floor): first with no
 * requests at all (quiet), then searches alone (idle), then searches while a training job runs.
 * Prints one JSON object.
 *
 *   node -r @swc-node/register bench/responsiveness.bench.ts [--seconds 20] [--concurrency 2] [--gallery 500]
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { createApp } from '../src/main';
import { mnistPngs } from '../src/modules/gallery/demo-gallery';
import { runThread, workerEntry } from '../src/workers/thread';
import { numberArg, runMain } from './lib/args';
import { percentile } from './lib/stats';
import type { LoadInput, LoadResult } from './responsiveness-load.worker';

const SECONDS = numberArg('seconds', 20);
const CONCURRENCY = numberArg('concurrency', 2);
const GALLERY = numberArg('gallery', 500);
const ADMIN_KEY = 'rir_bench_admin_key_responsiveness';
/** Loosely typed JSON answers of the API. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Phase {
  requests: number;
  errors: number;
  searchP50Ms: number;
  searchP99Ms: number;
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
}

async function measure(url: string, pngs: Buffer[]): Promise<Phase> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const { latencies, errors } = await runThread<LoadResult, 'started'>(
    workerEntry(__dirname, 'responsiveness-load.worker'),
    {
      url,
      key: ADMIN_KEY,
      pngs,
      seconds: SECONDS,
      concurrency: CONCURRENCY,
    } satisfies LoadInput,
    { onProgress: () => histogram.enable() },
  );
  histogram.disable();
  const sorted = latencies.sort((a, b) => a - b);
  const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  return {
    requests: sorted.length,
    errors,
    searchP50Ms: Math.round(percentile(sorted, 50) * 100) / 100,
    searchP99Ms: Math.round(percentile(sorted, 99) * 100) / 100,
    eventLoopDelayP50Ms: ms(histogram.percentile(50)),
    eventLoopDelayP99Ms: ms(histogram.percentile(99)),
    eventLoopDelayMaxMs: ms(histogram.max),
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rir-bench-resp-'));
  const { app } = await createApp({
    env: {
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '1000000',
      JOB_POLL_MS: '200',
      SERVE_ROLE: 'all',
    },
  });
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  const api = (route: string, init: RequestInit = {}) =>
    fetch(url + route, {
      ...init,
      headers: {
        'x-api-key': ADMIN_KEY,
        'content-type': 'application/json',
        ...(init.headers ?? {}),
      },
    }).then(async (res) => ({
      status: res.status,
      body: (await res.json()) as Json,
    }));
  const waitJob = async (id: string, done: (job: Json) => boolean) => {
    for (;;) {
      const job = (await api(`/v1/training-jobs/${id}`)).body;
      if (done(job)) return job;
      await sleep(500);
    }
  };
  try {
    // 1. A small model to serve searches with.
    const serving = await api('/v1/training-jobs', {
      method: 'POST',
      body: JSON.stringify({
        dataset: 'mnist',
        epochs: 1,
        batchSize: 40,
        perClass: 8,
        stepsPerEpoch: 30,
        maxTrainImages: 3000,
        maxValidationImages: 100,
        maxTestImages: 500,
        robustnessSamples: 20,
        robustnessSteps: 3,
      }),
    });
    const trained = await waitJob(serving.body.id, (j) =>
      ['succeeded', 'failed', 'cancelled'].includes(j.status),
    );
    if (trained.status !== 'succeeded')
      throw new Error(`serving model training ${trained.status}: ${trained.error}`);
    await api(`/v1/models/${trained.modelId}/deploy`, { method: 'POST' });
    for (;;) {
      const model = (await api(`/v1/models/${trained.modelId}`)).body;
      if (model.active) break;
      if (model.status === 'failed') throw new Error(`deploy failed: ${model.deployError}`);
      await sleep(500);
    }
    // 2. The gallery.
    const digits = await mnistPngs(GALLERY);
    for (let start = 0; start < digits.length; start += 50) {
      for (const label of new Set(digits.slice(start, start + 50).map((d) => d.label))) {
        const form = new FormData();
        for (const d of digits.slice(start, start + 50).filter((x) => x.label === label)) {
          form.append('files', new Blob([d.png], { type: 'image/png' }), `${label}.png`);
        }
        form.append('label', String(label));
        const res = await fetch(`${url}/v1/gallery/images`, {
          method: 'POST',
          body: form,
          headers: { 'x-api-key': ADMIN_KEY },
        });
        if (res.status >= 300) throw new Error(`gallery upload: ${res.status} ${await res.text()}`);
      }
    }
    const queries = digits.slice(0, 100).map((d) => d.png);
    await measure(url, queries.slice(0, 10)); // warm-up
    // 3. The server alone (no requests, no job): the loop delay this machine gives any process.
    const quiet = monitorEventLoopDelay({ resolution: 10 });
    quiet.enable();
    await sleep(SECONDS * 1000);
    quiet.disable();
    const quietLoop = {
      eventLoopDelayP50Ms: Math.round(quiet.percentile(50) / 1e4) / 100,
      eventLoopDelayP99Ms: Math.round(quiet.percentile(99) / 1e4) / 100,
    };
    // 4. Searches, no job.
    const idle = await measure(url, queries);
    // 5. Searches while a training job runs (robust training: PGD steps in every batch).
    const busyJob = await api('/v1/training-jobs', {
      method: 'POST',
      body: JSON.stringify({
        dataset: 'mnist',
        defense: 'est',
        defenseParams: { eps: 0.1, steps: 4 },
        epochs: 50,
        batchSize: 40,
        perClass: 8,
        maxTrainImages: 5000,
        maxValidationImages: 200,
        maxTestImages: 500,
      }),
    });
    await waitJob(busyJob.body.id, (j) => j.progress?.phase === 'train');
    const training = await measure(url, queries);
    const during = (await api(`/v1/training-jobs/${busyJob.body.id}`)).body;
    await api(`/v1/training-jobs/${busyJob.body.id}/cancel`, { method: 'POST' });
    await waitJob(busyJob.body.id, (j) => j.status !== 'running');
    console.log(
      JSON.stringify(
        {
          bench: 'responsiveness',
          date: new Date().toISOString(),
          seconds: SECONDS,
          concurrency: CONCURRENCY,
          gallery: GALLERY,
          trainingJob: { status: during.status, progress: during.progress },
          quiet: quietLoop,
          idle,
          training,
          searchP99Ratio: Math.round((training.searchP99Ms / idle.searchP99Ms) * 100) / 100,
        },
        null,
        2,
      ),
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runMain('responsiveness.bench', main);
