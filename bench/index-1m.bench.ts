/**
 * Vector index at scale: N (default 1,000,000) x 128-d float32 vectors clustered like real embeddings,
 * indexed through the service's own HnswIndex (hnswlib-node, cosine). Measures build time, memory per
 * vector against raw float32 (4 * dim bytes), recall@10 against exact search on held-out queries and
 * single-thread queries/s over ef. Prints one JSON object and writes it under bench/results/.
 *
 *   node --expose-gc -r @swc-node/register bench/index-1m.bench.ts [--n 1000000] [--dim 128]
 *     [--clusters 2000] [--sigma 0.75] [--queries 1000] [--m 16] [--ef-construction 200]
 *     [--efs 16,32,64,128,256] [--out bench/results/index-1m.json]
 *
 * Data: cluster centres uniform on the unit sphere, cluster sizes log-normal (real galleries are
 * unbalanced), each point = centre + sigma * N(0, I/dim), L2-normalised. Queries are drawn the same
 * way but never inserted. Exact neighbours come from blocked matrix products on the tfjs backend.
 *
 * --hnswlib DIR loads hnswlib-node from DIR instead of node_modules (e.g. a copy rebuilt with
 * CXXFLAGS=-march=native: the npm build compiles hnswlib's distances for baseline x86-64, SSE only).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import Module from 'module';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backend';

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

/** mulberry32: small, seeded, fast. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = uniform() || 1e-12;
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function normaliseRow(out: Float32Array, offset: number, dim: number): void {
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += out[offset + d] * out[offset + d];
  const inv = 1 / (Math.sqrt(norm) || 1);
  for (let d = 0; d < dim; d++) out[offset + d] *= inv;
}

interface ClusterModel {
  centres: Float32Array;
  /** Cumulative cluster probabilities, for sampling a cluster. */
  cumulative: Float64Array;
}

function clusterModel(clusters: number, dim: number, seed: number): ClusterModel {
  const g = gaussian(rng(seed));
  const centres = new Float32Array(clusters * dim);
  for (let c = 0; c < clusters; c++) {
    for (let d = 0; d < dim; d++) centres[c * dim + d] = g();
    normaliseRow(centres, c * dim, dim);
  }
  const cumulative = new Float64Array(clusters);
  let total = 0;
  for (let c = 0; c < clusters; c++) {
    total += Math.exp(g()); // log-normal sizes
    cumulative[c] = total;
  }
  for (let c = 0; c < clusters; c++) cumulative[c] /= total;
  return { centres, cumulative };
}

function sample(
  model: ClusterModel,
  n: number,
  dim: number,
  sigma: number,
  seed: number,
): Float32Array {
  const uniform = rng(seed);
  const g = gaussian(uniform);
  const out = new Float32Array(n * dim);
  const scale = sigma / Math.sqrt(dim);
  for (let i = 0; i < n; i++) {
    const u = uniform();
    let lo = 0;
    let hi = model.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (model.cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const c = lo * dim;
    const o = i * dim;
    for (let d = 0; d < dim; d++) out[o + d] = model.centres[c + d] + scale * g();
    normaliseRow(out, o, dim);
  }
  return out;
}

/** Exact top-k by cosine (dot product of normalised rows): blocked matrix products, selection in JS. */
function exactTopK(
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
): { ids: Int32Array; scores: Float32Array } {
  const n = base.length / dim;
  const q = queries.length / dim;
  // Per query, the running top-k sorted descending.
  const bestIds = new Int32Array(q * k).fill(-1);
  const bestScores = new Float32Array(q * k).fill(-Infinity);
  const block = 16384;
  const queryTensor = tf.tensor2d(queries, [q, dim]);
  for (let start = 0; start < n; start += block) {
    const rows = Math.min(block, n - start);
    const product = tf.tidy(() =>
      tf.matMul(
        queryTensor,
        tf.tensor2d(base.subarray(start * dim, (start + rows) * dim), [rows, dim]),
        false,
        true,
      ),
    );
    const scores = product.dataSync() as Float32Array;
    product.dispose();
    for (let r = 0; r < q; r++) {
      const o = r * k;
      let floor = bestScores[o + k - 1];
      for (let j = 0; j < rows; j++) {
        const s = scores[r * rows + j];
        if (s <= floor) continue;
        // Insertion into the sorted top-k.
        let at = k - 1;
        while (at > 0 && bestScores[o + at - 1] < s) {
          bestScores[o + at] = bestScores[o + at - 1];
          bestIds[o + at] = bestIds[o + at - 1];
          at--;
        }
        bestScores[o + at] = s;
        bestIds[o + at] = start + j;
        floor = bestScores[o + k - 1];
      }
    }
  }
  queryTensor.dispose();
  return { ids: bestIds, scores: bestScores };
}

function rss(): number {
  global.gc?.();
  return process.memoryUsage().rss;
}

/** Redirects require('hnswlib-node') to another build of it (see --hnswlib). */
function useHnswlibFrom(dir: string): void {
  const loader = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
  };
  const resolve = loader._resolveFilename;
  loader._resolveFilename = (request: string, ...rest: unknown[]) =>
    resolve(request === 'hnswlib-node' ? path.resolve(dir) : request, ...rest);
}

async function main(): Promise<void> {
  const hnswlibDir = arg('hnswlib', '');
  if (hnswlibDir) useHnswlibFrom(hnswlibDir);
  const { DEFAULT_HNSW_PARAMS, HnswIndex } = await import('../src/index/hnsw-index');
  const n = Number(arg('n', '1000000'));
  const dim = Number(arg('dim', '128'));
  const clusters = Number(arg('clusters', '2000'));
  const sigma = Number(arg('sigma', '0.75'));
  const queryCount = Number(arg('queries', '1000'));
  const m = Number(arg('m', String(DEFAULT_HNSW_PARAMS.m)));
  const efConstruction = Number(arg('ef-construction', String(DEFAULT_HNSW_PARAMS.efConstruction)));
  const efs = arg('efs', '16,32,64,128,256').split(',').map(Number);
  const out = arg('out', path.join('bench', 'results', `index-${n}.json`));
  const k = 10;
  const started = Date.now();

  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  const genStart = Date.now();
  const model = clusterModel(clusters, dim, 1);
  const base = sample(model, n, dim, sigma, 2);
  const queries = sample(model, queryCount, dim, sigma, 3);
  const generateSeconds = (Date.now() - genStart) / 1000;

  const truthStart = Date.now();
  const truth = exactTopK(base, queries, dim, k);
  const truthSeconds = (Date.now() - truthStart) / 1000;
  let tenthScore = 0;
  for (let r = 0; r < queryCount; r++) tenthScore += truth.scores[r * k + k - 1];

  // Build through the service's wrapper (what the service holds per model), capacity known up front.
  const rssBefore = rss();
  const buildStart = process.hrtime.bigint();
  const index = HnswIndex.create('bench', dim, { m, efConstruction }, n);
  const progressEvery = Math.max(1, Math.floor(n / 10));
  for (let i = 0; i < n; i++) {
    index.add(String(i), base.subarray(i * dim, (i + 1) * dim));
    if ((i + 1) % progressEvery === 0) {
      const s = Number(process.hrtime.bigint() - buildStart) / 1e9;
      console.error(`built ${i + 1}/${n} in ${s.toFixed(0)} s`);
    }
  }
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  const rssAfter = rss();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rir-index-1m-'));
  const file = path.join(dir, 'index.hnsw');
  index.native.writeIndexSync(file);
  const fileBytes = statSync(file).size;
  rmSync(dir, { recursive: true, force: true });

  const raw = 4 * dim;
  const curve = [];
  for (const ef of efs) {
    let hits = 0;
    let hitsNative = 0;
    // Service path: HnswIndex.search (number[] conversion, id mapping, result objects).
    const t0 = process.hrtime.bigint();
    const found: string[][] = [];
    for (let r = 0; r < queryCount; r++) {
      found.push(
        index
          .search(queries.subarray(r * dim, (r + 1) * dim), { k, ef: Math.max(ef, k) })
          .map((x) => x.id),
      );
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // hnswlib alone (labels equal row numbers here), to separate the wrapper's cost.
    const points = Array.from({ length: queryCount }, (_, r) =>
      Array.from(queries.subarray(r * dim, (r + 1) * dim)),
    );
    index.native.setEf(Math.max(ef, k));
    const t1 = process.hrtime.bigint();
    const nativeFound = points.map((p) => index.native.searchKnn(p, k).neighbors);
    const nativeSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    for (let r = 0; r < queryCount; r++) {
      const exact = new Set(Array.from(truth.ids.subarray(r * k, (r + 1) * k)));
      hits += found[r].filter((id) => exact.has(Number(id))).length;
      hitsNative += nativeFound[r].filter((id) => exact.has(id)).length;
    }
    curve.push({
      ef,
      recallAt10: hits / (queryCount * k),
      recallAt10Native: hitsNative / (queryCount * k),
      queriesPerSecond: Math.round(queryCount / seconds),
      queriesPerSecondNative: Math.round(queryCount / nativeSeconds),
      meanLatencyUs: Math.round((seconds / queryCount) * 1e6),
      isServiceDefault: ef === DEFAULT_HNSW_PARAMS.efSearch,
    });
    console.error(JSON.stringify(curve[curve.length - 1]));
  }

  const result = {
    benchmark: 'index-scale',
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      node: process.version,
    },
    data: {
      vectors: n,
      dim,
      clusters,
      clusterSizes: 'log-normal',
      sigma,
      heldOutQueries: queryCount,
      meanCosineToExact10th: Math.round((tenthScore / queryCount) * 1e4) / 1e4,
    },
    params: { ...DEFAULT_HNSW_PARAMS, m, efConstruction, space: 'cosine' },
    hnswlib: hnswlibDir ? `hnswlib-node from ${hnswlibDir}` : 'hnswlib-node (npm build)',
    isServiceDefault:
      m === DEFAULT_HNSW_PARAMS.m && efConstruction === DEFAULT_HNSW_PARAMS.efConstruction,
    generateSeconds,
    exactSearchSeconds: truthSeconds,
    buildSeconds: Math.round(buildSeconds * 10) / 10,
    buildVectorsPerSecond: Math.round(n / buildSeconds),
    memory: {
      rawBytesPerVector: raw,
      hnswFileBytesPerVector: Math.round(fileBytes / n),
      hnswFileVsRaw: Math.round((fileBytes / n / raw) * 100) / 100,
      rssGrowthBytesPerVector: Math.round((rssAfter - rssBefore) / n),
      rssGrowthVsRaw: Math.round(((rssAfter - rssBefore) / n / raw) * 100) / 100,
      rssAfterBuildMiB: Math.round(rssAfter / 2 ** 20),
      peakRssNote: 'rss includes the raw base vectors (n x dim float32) held by the benchmark',
    },
    curve,
    totalSeconds: (Date.now() - started) / 1000,
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, json + '\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
