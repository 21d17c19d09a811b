/**
 * Triplets mined on natural embeddings, and the triplet terms the robust defences train on.
 * Mining runs outside the gradient tape on plain arrays: the tuple set must not depend on the perturbation.
 */
import * as tf from '@tensorflow/tfjs';
import { EmbeddingTable, rowDistances } from '../distances';
import { mineBatchHard, tripletMarginLoss, type Triplets } from '../losses';

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
  return mineBatchHard(new EmbeddingTable(embeddings, dim).distancesWithin(), labels);
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
  const table = new EmbeddingTable(embeddings, dim);
  let sum = 0;
  t.anchors.forEach((a, i) => {
    sum += Math.max(
      0,
      table.distance(a, t.positives[i]) - table.distance(a, t.negatives[i]) + margin,
    );
  });
  return sum / t.anchors.length;
}

export function indexTensor(indices: ArrayLike<number>): tf.Tensor1D {
  return tf.tensor1d(Array.from(indices), 'int32');
}
