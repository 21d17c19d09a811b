import * as tf from '@tensorflow/tfjs';
import { distancesBetween } from '../distances';
import { SeededRandom } from '../data/random';

/** Rows per matrix product in the assignment step (bounds the [rows, k] distance block). */
const ASSIGN_BLOCK = 4096;

/**
 * k-means (k-means++ seeding, Lloyd iterations), seeded; returns a cluster index per row. Distances
 * to centroids come from matrix products on the tfjs backend (|x|^2 - 2 x.c + |c|^2): on 12,288-d
 * pixels with hundreds of clusters a loop in JavaScript took half a minute per iteration.
 */
export function kMeans(
  data: Float32Array,
  dim: number,
  k: number,
  seed: number,
  maxIterations = 100,
): Int32Array {
  const count = data.length / dim;
  if (k < 1 || k > count) throw new Error(`k-means needs 1 <= k <= ${count} (got k=${k})`);
  const random = new SeededRandom(seed);
  const centroids = new Float32Array(k * dim);
  const setCentroid = (c: number, i: number) =>
    centroids.set(data.subarray(i * dim, (i + 1) * dim), c * dim);
  const points = tf.tensor2d(data, [count, dim]);
  try {
    const pointNorms = tf.tidy(() => tf.sum(tf.square(points), 1));
    try {
      // k-means++: each new centre is drawn with probability proportional to the squared distance
      // to the nearest centre so far.
      const nearest = new Float64Array(count).fill(Infinity);
      setCentroid(0, random.int(count));
      for (let c = 1; c < k; c++) {
        const centre = centroids.subarray((c - 1) * dim, c * dim);
        const distances = tf.tidy(() => {
          const v = tf.tensor2d(centre, [dim, 1]);
          return tf
            .sub(
              tf.add(pointNorms, tf.sum(tf.square(v))),
              tf.mul(2, tf.matMul(points, v).reshape([count])),
            )
            .dataSync();
        });
        let total = 0;
        for (let i = 0; i < count; i++) {
          nearest[i] = Math.min(nearest[i], Math.max(0, distances[i]));
          total += nearest[i];
        }
        let r = random.next() * total;
        let chosen = count - 1;
        for (let i = 0; i < count; i++) {
          r -= nearest[i];
          if (r < 0) {
            chosen = i;
            break;
          }
        }
        setCentroid(c, chosen);
      }
    } finally {
      pointNorms.dispose();
    }
    const assignment = new Int32Array(count).fill(-1);
    const sums = new Float64Array(k * dim);
    for (let iteration = 0; iteration < maxIterations; iteration++) {
      const nearestCentre = assign(points, centroids, k, dim);
      let changed = 0;
      for (let i = 0; i < count; i++) {
        if (assignment[i] !== nearestCentre[i]) {
          assignment[i] = nearestCentre[i];
          changed++;
        }
      }
      if (changed === 0) break;
      const sizes = new Float64Array(k);
      sums.fill(0);
      for (let i = 0; i < count; i++) {
        const c = assignment[i];
        sizes[c]++;
        for (let d = 0; d < dim; d++) sums[c * dim + d] += data[i * dim + d];
      }
      for (let c = 0; c < k; c++) {
        if (sizes[c] === 0)
          setCentroid(c, random.int(count)); // an empty cluster restarts at a random point
        else for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d] / sizes[c];
      }
    }
    return assignment;
  } finally {
    points.dispose();
  }
}

/** The nearest centroid of every point (first on ties), a block of rows at a time. */
function assign(points: tf.Tensor2D, centroids: Float32Array, k: number, dim: number): Int32Array {
  const count = points.shape[0];
  const out = new Int32Array(count);
  const centres = tf.tensor2d(centroids, [k, dim]);
  try {
    for (let start = 0; start < count; start += ASSIGN_BLOCK) {
      const rows = Math.min(ASSIGN_BLOCK, count - start);
      const nearest = tf.tidy(() =>
        tf.argMin(distancesBetween(points.slice([start, 0], [rows, dim]), centres), 1).dataSync(),
      );
      out.set(nearest, start);
    }
  } finally {
    centres.dispose();
  }
  return out;
}

/** NMI with the arithmetic-mean normalisation: 2 I(Y; C) / (H(Y) + H(C)); 1 when both are constant. */
export function normalizedMutualInformation(
  labels: ArrayLike<number>,
  clusters: ArrayLike<number>,
): number {
  const n = labels.length;
  if (clusters.length !== n)
    throw new Error(`expected ${n} cluster assignments, got ${clusters.length}`);
  const joint = new Map<string, number>();
  const byLabel = new Map<number, number>();
  const byCluster = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${labels[i]}:${clusters[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    byLabel.set(labels[i], (byLabel.get(labels[i]) ?? 0) + 1);
    byCluster.set(clusters[i], (byCluster.get(clusters[i]) ?? 0) + 1);
  }
  const entropy = (counts: Map<number, number>) =>
    [...counts.values()].reduce((h, c) => h - (c / n) * Math.log(c / n), 0);
  let mutual = 0;
  for (const [key, c] of joint) {
    const [label, cluster] = key.split(':').map(Number);
    mutual += (c / n) * Math.log((c * n) / (byLabel.get(label)! * byCluster.get(cluster)!));
  }
  const hLabels = entropy(byLabel);
  const hClusters = entropy(byCluster);
  if (hLabels + hClusters === 0) return 1;
  return (2 * mutual) / (hLabels + hClusters);
}
