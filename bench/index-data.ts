/**
 * Synthetic embedding galleries for the vector-index benchmarks, and the statistics used to check them
 * against real embeddings (bench/index-embedding-stats.bench.ts).
 *
 * Two generators share the cluster centres (uniform on the unit sphere) and log-normal cluster sizes:
 * - isotropic: point = centre + sigma * N(0, I/dim), L2-normalised. Full intrinsic dimension inside a
 *   cluster: the stress test.
 * - fitted: point = centreNorm * centre + s_c * U_c diag(sqrt(spectrum)) z, L2-normalised, with the
 *   within-class covariance eigen-spectrum, centre norm, spread of the total variance over classes,
 *   distribution of the residual's length, cosine between class means and sharing of principal
 *   directions between classes measured on a model's real embeddings (an EmbeddingProfile).
 */
import * as tf from '@tensorflow/tfjs';
import { mean, quantile, round } from './lib/stats';

/** mulberry32: small, seeded, fast. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(uniform: () => number): () => number {
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

export function normaliseRow(out: Float32Array, offset: number, dim: number): void {
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += out[offset + d] * out[offset + d];
  const inv = 1 / (Math.sqrt(norm) || 1);
  for (let d = 0; d < dim; d++) out[offset + d] *= inv;
}

export interface ClusterModel {
  centres: Float32Array;
  /** Cumulative cluster probabilities, for sampling a cluster. */
  cumulative: Float64Array;
}

export function clusterModel(clusters: number, dim: number, seed: number): ClusterModel {
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

function pickCluster(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Sampled {
  vectors: Float32Array;
  /** Cluster of each vector. */
  labels: Int32Array;
}

/** The isotropic stress-test data (same draws as the first issue-7 runs for the same seeds). */
export function sampleIsotropic(
  model: ClusterModel,
  n: number,
  dim: number,
  sigma: number,
  seed: number,
): Sampled {
  const uniform = rng(seed);
  const g = gaussian(uniform);
  const out = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const scale = sigma / Math.sqrt(dim);
  for (let i = 0; i < n; i++) {
    const cluster = pickCluster(model.cumulative, uniform());
    labels[i] = cluster;
    const c = cluster * dim;
    const o = i * dim;
    for (let d = 0; d < dim; d++) out[o + d] = model.centres[c + d] + scale * g();
    normaliseRow(out, o, dim);
  }
  return { vectors: out, labels };
}

/** Within-class structure of a model's embeddings, as measured by bench/index-embedding-stats.bench.ts. */
export interface EmbeddingProfile {
  source: string;
  dim: number;
  /**
   * Generator input: eigenvalues of the within-class noise covariance, descending, calibrated so that
   * the generated, normalised vectors reproduce the measured spectrum.
   */
  spectrum: number[];
  /** Generator input: length of the centre component (calibrated to the measured class-mean norm). */
  centreNorm: number;
  /** Standard deviation over classes of log(total within-class variance). */
  logTraceSd: number;
  /** Mean cosine between class means: centres share a common direction with this squared weight. */
  centreCosine?: number;
  /**
   * Quantiles (0, 1/100, ..., 1) of |x - class mean| / sqrt(class total variance) measured on the real
   * vectors: the noise's length is drawn from them (its direction stays Gaussian-anisotropic). Absent: a
   * plain Gaussian.
   */
  residualNormQuantiles?: number[];
  /** Each cluster's basis is orthonormalised (shared + rotationMix * own Gaussian); fitted to the overlap. */
  rotationMix?: number;
}

/** per-cluster: independent random bases; shared: one basis; profile: partly shared (rotationMix). */
export type Rotation = 'per-cluster' | 'shared' | 'profile';

export interface FittedModel extends ClusterModel {
  dim: number;
  centreNorm: number;
  sqrtSpectrum: Float64Array;
  /** Sum of the spectrum. */
  trace: number;
  /** Per-cluster noise scale (its total variance is scale^2 times the profile's). */
  scales: Float64Array;
  /** Row-major dim x dim orthogonal bases: one per cluster, or one shared. */
  bases: Float32Array;
  shared: boolean;
  residualNormQuantiles?: number[];
}

/** Orthonormalises the rows of m in place (modified Gram-Schmidt). */
function orthonormaliseRows(m: Float64Array, dim: number): void {
  for (let i = 0; i < dim; i++) {
    const row = i * dim;
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += m[row + d] * m[j * dim + d];
      for (let d = 0; d < dim; d++) m[row + d] -= dot * m[j * dim + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += m[row + d] * m[row + d];
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) m[row + d] *= inv;
  }
}

/**
 * The fitted generator's clusters: the same cluster sizes as clusterModel(clusters, dim, seed) and the
 * same centres when the profile has no centreCosine; noise bases, scales and the common centre direction
 * come from a separate stream (seed + 1000).
 */
export function fittedModel(
  clusters: number,
  dim: number,
  profile: EmbeddingProfile,
  seed: number,
  rotation: Rotation,
): FittedModel {
  if (profile.dim !== dim || profile.spectrum.length !== dim) {
    throw new Error(`profile is for dim ${profile.dim}, data dim is ${dim}`);
  }
  const base = clusterModel(clusters, dim, seed);
  const g = gaussian(rng(seed + 1000));
  const kappa = Math.max(0, profile.centreCosine ?? 0);
  if (kappa > 0) {
    const common = new Float32Array(dim);
    for (let d = 0; d < dim; d++) common[d] = g();
    normaliseRow(common, 0, dim);
    const a = Math.sqrt(kappa);
    const b = Math.sqrt(1 - kappa);
    for (let c = 0; c < clusters; c++) {
      for (let d = 0; d < dim; d++) {
        base.centres[c * dim + d] = a * common[d] + b * base.centres[c * dim + d];
      }
      normaliseRow(base.centres, c * dim, dim);
    }
  }
  const shared = rotation === 'shared';
  const bases = new Float32Array((shared ? 1 : clusters) * dim * dim);
  const m = new Float64Array(dim * dim);
  const common = new Float64Array(dim * dim);
  const mix = rotation === 'profile' ? (profile.rotationMix ?? Infinity) : Infinity;
  if (Number.isFinite(mix)) {
    for (let i = 0; i < common.length; i++) common[i] = g();
    orthonormaliseRows(common, dim);
  }
  for (let c = 0; c < (shared ? 1 : clusters); c++) {
    if (Number.isFinite(mix)) {
      for (let i = 0; i < m.length; i++) m[i] = common[i] + mix * g();
    } else {
      for (let i = 0; i < m.length; i++) m[i] = g();
    }
    orthonormaliseRows(m, dim);
    for (let i = 0; i < m.length; i++) bases[c * dim * dim + i] = m[i];
  }
  // Log-normal scale of the total variance with mean 1: trace_c = trace * exp(sd * z - sd^2 / 2).
  const sd = profile.logTraceSd;
  const scales = new Float64Array(clusters);
  for (let c = 0; c < clusters; c++) scales[c] = Math.sqrt(Math.exp(sd * g() - (sd * sd) / 2));
  return {
    ...base,
    dim,
    centreNorm: profile.centreNorm,
    sqrtSpectrum: Float64Array.from(profile.spectrum, (x) => Math.sqrt(Math.max(0, x))),
    trace: profile.spectrum.reduce((t, x) => t + Math.max(0, x), 0),
    scales,
    bases,
    shared,
    residualNormQuantiles: profile.residualNormQuantiles,
  };
}

/** Inverse-CDF draw from evenly spaced quantiles, linear in between. */
function fromQuantiles(quantiles: number[], u: number): number {
  const x = u * (quantiles.length - 1);
  const i = Math.min(quantiles.length - 2, Math.floor(x));
  return quantiles[i] + (x - i) * (quantiles[i + 1] - quantiles[i]);
}

export function sampleFitted(model: FittedModel, n: number, seed: number): Sampled {
  const dim = model.dim;
  const uniform = rng(seed);
  const g = gaussian(uniform);
  const out = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const z = new Float64Array(dim);
  const quantiles = model.residualNormQuantiles;
  for (let i = 0; i < n; i++) {
    const cluster = pickCluster(model.cumulative, uniform());
    labels[i] = cluster;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      z[d] = model.sqrtSpectrum[d] * g();
      norm += z[d] * z[d];
    }
    // Gaussian direction; length Gaussian too, or drawn from the measured radial quantiles.
    const scale = quantiles
      ? (model.scales[cluster] * Math.sqrt(model.trace) * fromQuantiles(quantiles, uniform())) /
        Math.sqrt(norm)
      : model.scales[cluster];
    const b = model.shared ? 0 : cluster * dim * dim;
    const c = cluster * dim;
    const o = i * dim;
    for (let d = 0; d < dim; d++) out[o + d] = model.centreNorm * model.centres[c + d];
    // noise = sum_j z_j * basis row j
    for (let j = 0; j < dim; j++) {
      const zj = scale * z[j];
      const row = b + j * dim;
      for (let d = 0; d < dim; d++) out[o + d] += zj * model.bases[row + d];
    }
    normaliseRow(out, o, dim);
  }
  return { vectors: out, labels };
}

/** Exact top-k by cosine (dot product of normalised rows): blocked matrix products, selection in JS. */
export function exactTopK(
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

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi); values descending, vectors as rows. */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= 1e-24 * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A <- J^T A J, V <- V J, with J the rotation in the (p, q) plane.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, row) => {
    for (let k = 0; k < n; k++) vectors[row * n + k] = v[k * n + col];
  });
  return { values, vectors };
}

/** Evenly spaced quantiles 0, 1/steps, ..., 1. */
export function quantiles(values: Float64Array, steps = 100): number[] {
  const sorted = Float64Array.from(values).sort();
  return Array.from({ length: steps + 1 }, (_, i) => quantile(sorted, i / steps));
}

export function summary(values: Float64Array): Record<string, number> {
  const sorted = Float64Array.from(values).sort();
  const average = mean(sorted);
  let sq = 0;
  for (const x of sorted) sq += (x - average) ** 2;
  return {
    mean: round(average, 4),
    sd: round(Math.sqrt(sq / sorted.length), 4),
    p5: round(quantile(sorted, 0.05), 4),
    p50: round(quantile(sorted, 0.5), 4),
    p95: round(quantile(sorted, 0.95), 4),
  };
}

/** How many leading eigenvalues hold the fraction f of the total. */
function dimsFor(values: Float64Array, f: number): number {
  let total = 0;
  for (const x of values) total += Math.max(0, x);
  let acc = 0;
  for (let i = 0; i < values.length; i++) {
    acc += Math.max(0, values[i]);
    if (acc >= f * total) return i + 1;
  }
  return values.length;
}

/** (sum lambda)^2 / sum lambda^2: the effective number of dimensions of a covariance. */
function participationRatio(values: Float64Array): number {
  let s = 0;
  let s2 = 0;
  for (const x of values) {
    s += Math.max(0, x);
    s2 += Math.max(0, x) ** 2;
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}

export interface ClassStructure {
  classes: number;
  points: number;
  /** Size-weighted mean spectrum (descending). */
  spectrum: Float64Array;
  centreNorm: number;
  logTraceSd: number;
  /** Per point: |x - class mean| / sqrt(class total variance). */
  residualNorms: Float64Array;
  meanCentreCosine: number;
  meanSubspaceOverlap: number;
  report: Record<string, unknown>;
}

/**
 * Per class: mean, covariance of the residuals, eigen-spectrum; cosine of each point to its (normalised)
 * class mean; cosines between class means; overlap of classes' principal subspaces.
 */
export function classStructure(
  vectors: Float32Array,
  labels: Int32Array,
  dim: number,
  maxPerClass = 20000,
): ClassStructure {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    if (list.length < maxPerClass) list.push(i);
    byClass.set(labels[i], list);
  }
  const classes = [...byClass.keys()].sort((x, y) => x - y);
  const spectrum = new Float64Array(dim);
  const cosToCentre: number[] = [];
  const residualNorms: number[] = [];
  const centres: Float64Array[] = [];
  const bases: Float64Array[] = [];
  const perClass: Record<string, unknown>[] = [];
  const logTraces: number[] = [];
  let points = 0;
  let centreNorm = 0;
  for (const label of classes) {
    const members = byClass.get(label) ?? [];
    const count = members.length;
    const mean = new Float64Array(dim);
    for (const i of members) for (let d = 0; d < dim; d++) mean[d] += vectors[i * dim + d];
    for (let d = 0; d < dim; d++) mean[d] /= count;
    const cov = new Float64Array(dim * dim);
    const r = new Float64Array(dim);
    for (const i of members) {
      for (let d = 0; d < dim; d++) r[d] = vectors[i * dim + d] - mean[d];
      for (let p = 0; p < dim; p++) {
        const rp = r[p];
        for (let q = p; q < dim; q++) cov[p * dim + q] += rp * r[q];
      }
    }
    for (let p = 0; p < dim; p++) {
      for (let q = p; q < dim; q++) {
        cov[p * dim + q] /= count;
        cov[q * dim + p] = cov[p * dim + q];
      }
    }
    const { values, vectors: eig } = symmetricEigen(cov, dim);
    let trace = 0;
    for (const x of values) trace += Math.max(0, x);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += mean[d] * mean[d];
    norm = Math.sqrt(norm);
    for (const i of members) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += vectors[i * dim + d] * mean[d];
      cosToCentre.push(dot / norm);
      // |x - mean|^2 for a unit x, relative to the class's total variance.
      residualNorms.push(Math.sqrt(Math.max(0, 1 - 2 * dot + norm * norm) / trace));
    }
    for (let d = 0; d < dim; d++) spectrum[d] += count * Math.max(0, values[d]);
    centreNorm += count * norm;
    points += count;
    logTraces.push(Math.log(trace));
    centres.push(mean.map((x) => x / norm));
    const k90 = dimsFor(values, 0.9);
    bases.push(eig.slice(0, k90 * dim));
    perClass.push({
      label,
      count,
      centreNorm: round(norm, 4),
      trace: round(trace, 4),
      participationRatio: round(participationRatio(values), 1),
      dimsFor90: k90,
      dimsFor99: dimsFor(values, 0.99),
    });
  }
  for (let d = 0; d < dim; d++) spectrum[d] /= points;
  centreNorm /= points;
  const meanLog = mean(logTraces);
  const logTraceSd = Math.sqrt(
    logTraces.reduce((s, x) => s + (x - meanLog) ** 2, 0) / logTraces.length,
  );
  // Cosine between class means, and how much classes share principal directions: the mean squared
  // projection of one class's top-90% basis onto another's (random subspaces give about k/dim).
  const centreCos: number[] = [];
  const overlap: number[] = [];
  const chance: number[] = [];
  for (let a = 0; a < classes.length; a++) {
    for (let b = a + 1; b < classes.length; b++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += centres[a][d] * centres[b][d];
      centreCos.push(dot);
      const ka = bases[a].length / dim;
      const kb = bases[b].length / dim;
      let sum = 0;
      for (let i = 0; i < ka; i++) {
        for (let j = 0; j < kb; j++) {
          let p = 0;
          for (let d = 0; d < dim; d++) p += bases[a][i * dim + d] * bases[b][j * dim + d];
          sum += p * p;
        }
      }
      overlap.push(sum / Math.min(ka, kb));
      chance.push(Math.max(ka, kb) / dim);
    }
  }
  const total = spectrum.reduce((s, x) => s + x, 0);
  return {
    classes: classes.length,
    points,
    spectrum,
    centreNorm,
    logTraceSd,
    residualNorms: Float64Array.from(residualNorms),
    // 0 where there is nothing to average (one class; classes without a subspace).
    meanCentreCosine: centreCos.length ? mean(centreCos) : 0,
    meanSubspaceOverlap: overlap.length ? mean(overlap) : 0,
    report: {
      classes: classes.length,
      points,
      withinClassVariance: round(total, 4),
      centreNorm: round(centreNorm, 4),
      logTraceSd: round(logTraceSd, 4),
      pooledSpectrum: {
        participationRatio: round(participationRatio(spectrum), 1),
        dimsFor50: dimsFor(spectrum, 0.5),
        dimsFor90: dimsFor(spectrum, 0.9),
        dimsFor95: dimsFor(spectrum, 0.95),
        dimsFor99: dimsFor(spectrum, 0.99),
        top10Fraction: Array.from(spectrum.slice(0, 10), (x) => round(x / total, 4)),
      },
      cosToClassCentre: summary(Float64Array.from(cosToCentre)),
      relativeResidualNorm: summary(Float64Array.from(residualNorms)),
      centreCosine: centreCos.length ? summary(Float64Array.from(centreCos)) : null,
      subspaceOverlap90: overlap.length
        ? { mean: round(mean(overlap), 4), chance: round(mean(chance), 4) }
        : null,
      perClass,
    },
  };
}

/**
 * Neighbour structure seen from held-out queries: cosine to the 1st and 10th exact neighbour, and the
 * local intrinsic dimension (Levina-Bickel maximum likelihood over the k nearest Euclidean distances,
 * averaged as MacKay-Ghahramani do, by the inverse).
 */
export function neighbourStructure(
  gallery: Float32Array,
  queries: Float32Array,
  dim: number,
  k = 20,
): NeighbourStructure {
  const { scores } = exactTopK(gallery, queries, dim, k);
  return {
    ...neighbourStructureOfScores(scores, queries.length / dim, k),
    galleryPoints: gallery.length / dim,
  };
}

export interface NeighbourStructure {
  queries: number;
  galleryPoints?: number;
  cosTo1st: Record<string, number>;
  cosTo10th: Record<string, number>;
  localIntrinsicDim: { k: number; mle: number; perQuery: Record<string, number> };
}

/** neighbourStructure from exact top-k scores (descending per query) already at hand. */
export function neighbourStructureOfScores(
  scores: Float32Array,
  q: number,
  k: number,
): NeighbourStructure {
  const first = new Float64Array(q);
  const tenth = new Float64Array(q);
  const lid = new Float64Array(q);
  let inverseSum = 0;
  for (let r = 0; r < q; r++) {
    first[r] = scores[r * k];
    tenth[r] = scores[r * k + 9];
    const dist = (j: number): number => Math.sqrt(Math.max(1e-12, 2 - 2 * scores[r * k + j]));
    const far = dist(k - 1);
    let sum = 0;
    for (let j = 0; j < k - 1; j++) sum += Math.log(far / dist(j));
    const inverse = sum / (k - 1);
    lid[r] = 1 / inverse;
    inverseSum += inverse;
  }
  return {
    queries: q,
    cosTo1st: summary(first),
    cosTo10th: summary(tenth),
    localIntrinsicDim: { k, mle: round(q / inverseSum, 1), perQuery: summary(lid) },
  };
}
