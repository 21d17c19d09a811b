/**
 * Euclidean distances between (L2-normalised) embeddings, as tensors (inside attack objectives) and
 * as plain arrays (for the rank metrics, computed after the attack on the CPU side).
 */
import * as tf from '@tensorflow/tfjs';
import { rowDistances } from '../losses';

/** d(a_i, b_j) for a [N,D] and b [M,D] -> [N,M] (the losses' version is square, a against itself). */
export function pairwiseDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]);
    const squared = tf.relu(tf.sub(tf.add(aa, bb), tf.mul(2, tf.matMul(a, b, false, true))));
    return tf.sqrt(tf.add(squared, 1e-12)) as tf.Tensor2D;
  });
}

/** d(a_i, b_i) row by row for a, b [N,D] -> [N] (the losses' implementation). */
export { rowDistances };

/** Rows of a flat [N*D] array of embeddings. */
export class EmbeddingTable {
  constructor(
    readonly values: Float32Array,
    readonly dim: number,
  ) {
    if (values.length % dim !== 0) {
      throw new Error(
        `embedding table of ${values.length} values is not a multiple of dimension ${dim}`,
      );
    }
  }

  get size(): number {
    return this.values.length / this.dim;
  }

  row(i: number): Float32Array {
    return this.values.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** d(v, row j) for every row j. */
  distancesFrom(v: Float32Array): Float64Array {
    const out = new Float64Array(this.size);
    for (let j = 0; j < this.size; j++) out[j] = euclidean(v, this.row(j));
    return out;
  }
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) {
    const diff = a[k] - b[k];
    sum += diff * diff;
  }
  return Math.sqrt(sum);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

/** Indices sorted by ascending distance, skipping `exclude`. */
export function ranking(distances: Float64Array, exclude: number[] = []): number[] {
  const order: number[] = [];
  for (let j = 0; j < distances.length; j++) if (!exclude.includes(j)) order.push(j);
  return order.sort((i, j) => distances[i] - distances[j]);
}

/** Percentile rank (0 = first) of item `target` among all items except `exclude` (target itself never counts). */
export function percentileRank(
  distances: Float64Array,
  targetDistance: number,
  exclude: number[],
): number {
  let closer = 0;
  let total = 0;
  for (let j = 0; j < distances.length; j++) {
    if (exclude.includes(j)) continue;
    total++;
    if (distances[j] < targetDistance) closer++;
  }
  return total === 0 ? 0 : (100 * closer) / total;
}
