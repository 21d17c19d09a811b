/**
 * Triplets mined on natural embeddings, and the triplet terms the robust defences train on.
 * Mining runs outside the gradient tape on plain arrays: the tuple set must not depend on the perturbation.
 */
import * as tf from '@tensorflow/tfjs';
import { mineBatchHard, rowDistances, tripletMarginLoss, type Triplets } from '../losses';

export type { Triplets };

/**
 * Batch-hard triplets (farthest positive, nearest negative per anchor) mined on natural embeddings given
 * as plain values: one triplet per anchor keeps the cost of the inner maximisation at one batch.
 */
export function mineNaturalTriplets(
  embeddings: Float32Array,
  labels: Int32Array,
  dim: number,
): Triplets {
  const n = labels.length;
  if (embeddings.length !== n * dim) {
    throw new Error(
      `expected ${n} x ${dim} embeddings for ${n} labels, got ${embeddings.length} values`,
    );
  }
  const distances = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (embeddings[i * dim + k] - embeddings[j * dim + k]) ** 2;
      distances[i * n + j] = distances[j * n + i] = Math.sqrt(s);
    }
  }
  return mineBatchHard(distances, labels);
}

export const DEFAULT_MARGIN = 0.2;

/** Hardness d(a,p) - d(a,n) per row: > -margin means the triplet still costs loss. */
export function hardness(a: tf.Tensor2D, p: tf.Tensor2D, n: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(rowDistances(a, p), rowDistances(a, n)) as tf.Tensor1D);
}

/** Mean of [d(a,p) - d(a,n) + margin]+ over rows (the losses' implementation). */
export const tripletLoss = tripletMarginLoss;

/** Mean triplet loss computed on plain arrays (for schedules that need a number, not a tensor). */
export function tripletLossValue(
  embeddings: Float32Array,
  dim: number,
  t: Triplets,
  margin = DEFAULT_MARGIN,
): number {
  if (t.anchors.length === 0) return 0;
  const d = (i: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < dim; k++) s += (embeddings[i * dim + k] - embeddings[j * dim + k]) ** 2;
    return Math.sqrt(s);
  };
  let sum = 0;
  t.anchors.forEach((a, i) => {
    sum += Math.max(0, d(a, t.positives[i]) - d(a, t.negatives[i]) + margin);
  });
  return sum / t.anchors.length;
}

export function indexTensor(indices: ArrayLike<number>): tf.Tensor1D {
  return tf.tensor1d(Array.from(indices), 'int32');
}

/**
 * Rows `indices` of x [N,D] as a one-hot matmul: differentiable on every backend (tf.gather's gradient
 * needs UnsortedSegmentSum, which tfjs-backend-wasm 4.22 lacks).
 */
export function selectRows(x: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(
    () => tf.matMul(tf.oneHot(tf.cast(indices, 'int32'), x.shape[0]).toFloat(), x) as tf.Tensor2D,
  );
}
