/**
 * The service's own hot paths, in-process (no HTTP): the Nest application with embedded PGlite and the
 * bundled default model, driven through its services.
 *
 * - ingest: GalleryService.ingest (validate, decode with sharp, embed in the model's worker thread,
 *   write the file, insert row + embedding, add to the HNSW index), in batches like upload requests.
 * - search by upload: SearchService.searchByImage (validate, decode, embed, HNSW search), one at a time.
 * - PGD as a probe runs it: the attack suite's runAttack with the probe defaults (eps 8/255, step
 *   3/255, 32 steps, 100 queries, a 1,000-image held-out MNIST probe set), on this thread's backend.
 *
 * Prints one JSON object and writes it under bench/results/.
 *
 *   node -r @swc-node/register bench/production-paths.bench.ts [--ingest 2000] [--batch 50]
 *     [--searches 500] [--attack CA+] [--out bench/results/production-paths.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createApp } from '../src/main';
import { mnistPngs } from '../src/modules/gallery/demo-gallery';
import type { AttackName } from '../src/ml/attacks/definitions';
import { prepareGallery, runAttack, sampleQueries } from '../src/ml/attacks/suite';
import { backendInfo } from '../src/ml/backend';
import { loadModelVersion } from '../src/ml/model-store';
import { GalleryService } from '../src/modules/gallery/gallery.service';
import { PROBE_DEFAULTS } from '../src/modules/probes/runner/probe-config';
import { loadProbeSet } from '../src/modules/probes/runner/probe-set';
import { suiteOptions } from '../src/modules/probes/runner/run-probe';
import { SearchService } from '../src/modules/search/search.service';
import { arg, runMain } from './lib/args';
import { mean, percentile, round } from './lib/stats';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function main(): Promise<void> {
  const ingestCount = Number(arg('ingest', '2000'));
  const batch = Number(arg('batch', '50'));
  const searches = Number(arg('searches', '500'));
  const attack = arg('attack', 'CA+') as AttackName;
  const out = arg('out', path.join('bench', 'results', 'production-paths.json'));
  const started = Date.now();
  const loadStart = os.loadavg();

  const gallerySet = await mnistPngs(ingestCount, 0);
  const querySet = await mnistPngs(Math.min(searches, 5000), 5000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rir-bench-paths-'));
  const appStart = Date.now();
  const { app } = await createApp({
    env: {
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      ADMIN_API_KEY: 'rir_bench_admin_key_production_paths',
      LOG_LEVEL: 'warn',
      SERVE_ROLE: 'all',
    },
  });
  try {
    await app.init();
    const search = app.get(SearchService);
    const gallery = app.get(GalleryService);
    // The bundled default model deploys at bootstrap; wait until it serves.
    for (let waited = 0; ; waited += 100) {
      try {
        search.serving();
        break;
      } catch (error) {
        if (waited > 120_000) throw error;
        await sleep(100);
      }
    }
    const serving = search.serving();
    const appSeconds = (Date.now() - appStart) / 1000;

    // Warm-up: one small ingest and a few searches (first calls compile kernels, warm the pool).
    const warm = await mnistPngs(20, 9000);
    await gallery.ingest(
      warm.map((d, i) => ({ buffer: d.png, originalname: `warm-${i}.png` })),
      'warm',
      undefined,
    );
    for (const d of warm.slice(0, 5))
      await search.searchByImage({ buffer: d.png, originalname: 'q.png' }, { k: 10 });

    // 1. Ingest, in upload-sized batches of one label each (the API takes one label per request).
    const batchMs: number[] = [];
    const ingestStart = process.hrtime.bigint();
    let ingested = 0;
    for (let start = 0; start < gallerySet.length; start += batch) {
      const slice = gallerySet.slice(start, start + batch);
      for (const label of new Set(slice.map((d) => d.label))) {
        const files = slice
          .filter((d) => d.label === label)
          .map((d, i) => ({ buffer: d.png, originalname: `${start}-${i}.png` }));
        const t0 = process.hrtime.bigint();
        const items = await gallery.ingest(files, String(label), undefined);
        batchMs.push(Number(process.hrtime.bigint() - t0) / 1e6 / files.length);
        ingested += items.filter((item) => !item.duplicate).length;
      }
    }
    const ingestSeconds = Number(process.hrtime.bigint() - ingestStart) / 1e9;

    // 2. Search by upload, sequential.
    const latencies: number[] = [];
    const serviceTook: number[] = [];
    for (let i = 0; i < searches; i++) {
      const q = querySet[i % querySet.length];
      const t0 = process.hrtime.bigint();
      const response = await search.searchByImage(
        { buffer: q.png, originalname: 'query.png' },
        { k: 10 },
      );
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      serviceTook.push(response.tookMs);
    }
    latencies.sort((a, b) => a - b);
    serviceTook.sort((a, b) => a - b);

    // 3. PGD as a probe runs it (probe defaults, MNIST held-out probe set of the probe's default size).
    const modelDir = path.join(__dirname, '..', 'models', 'default');
    const { model: embedder } = await loadModelVersion(modelDir);
    const set = await loadProbeSet(
      { kind: 'dataset', name: 'mnist', limit: PROBE_DEFAULTS.gallerySize, seed: 0 },
      embedder.inputShape,
    );
    const prepared = prepareGallery(embedder, set.images);
    const rows = sampleQueries(prepared, PROBE_DEFAULTS.sampleSize, PROBE_DEFAULTS.seed);
    const options = suiteOptions(
      {
        ...PROBE_DEFAULTS,
        model: 'default',
        attacks: [attack],
        probeSet: 'dataset:mnist',
      },
      PROBE_DEFAULTS.eps[0],
    );
    runAttack(embedder, prepared, attack, rows.slice(0, 10), { ...options, steps: 2 }); // warm-up
    const attackStart = process.hrtime.bigint();
    const run = runAttack(embedder, prepared, attack, rows, options);
    const attackSeconds = Number(process.hrtime.bigint() - attackStart) / 1e9;
    prepared.dispose();
    embedder.dispose();
    const stepsPerImage = run.configuration.steps * run.configuration.restarts;

    batchMs.sort((a, b) => a - b);
    const result = {
      benchmark: 'production-paths',
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.cpus().length,
        node: process.version,
        backend: backendInfo(),
        loadAverageStart: loadStart.map((x) => round(x, 2)),
        loadAverageEnd: os.loadavg().map((x) => round(x, 2)),
      },
      model: {
        id: serving.modelId,
        inputShape: serving.embedder.inputShape,
        embeddingDim: serving.index.dim,
      },
      appStartSeconds: round(appSeconds, 2),
      ingest: {
        images: ingested,
        batchSize: batch,
        seconds: round(ingestSeconds, 2),
        imagesPerSecond: round(ingested / ingestSeconds, 1),
        perImageMsP50: round(percentile(batchMs, 50), 2),
        path: 'GalleryService.ingest: validate + sharp decode + embed (model worker) + file + PGlite row/embedding + HNSW add',
      },
      searchByUpload: {
        searches,
        galleryVectors: serving.index.size,
        p50Ms: round(percentile(latencies, 50), 2),
        p99Ms: round(percentile(latencies, 99), 2),
        meanMs: round(mean(latencies), 2),
        serviceTookP50Ms: round(percentile(serviceTook, 50), 2),
        path: 'SearchService.searchByImage: validate + sharp decode + embed (model worker) + HNSW k=10',
      },
      pgdProbe: {
        attack,
        configuration: run.configuration,
        probeSetImages: set.images.labels.length,
        attackedImages: run.samples,
        batchSize: 100,
        seconds: round(attackSeconds, 2),
        imagesPerSecond: round(run.samples / attackSeconds, 2),
        pgdStepImagesPerSecond: round((run.samples * stepsPerImage) / attackSeconds, 1),
        path: 'runAttack (src/ml/attacks/suite.ts) with the probe defaults, on the main thread (a probe runs it in its worker thread)',
      },
      totalSeconds: round((Date.now() - started) / 1000, 1),
    };
    const json = JSON.stringify(result, null, 2);
    console.log(json);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, json + '\n');
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runMain('production-paths.bench', main);
