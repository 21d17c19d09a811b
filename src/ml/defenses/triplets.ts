/**
 * Triplets mined on natural embeddings, and the triplet terms the robust defences train on.
 * Mining runs outside the gradient tape on plain arrays: the tuple set must not depend on the perturbation.
 */
import * as tf from '@tensorflow/tfjs';
import { rowDistances } from '../attacks/distances';

export const DEFAULT_MARGIN = 0.2;

export interface Triplets {
  anchors: number[];
  positives: number[];
  negatives: number[];
}

/**
 * For every anchor with a positive and a negative in the batch: its hardest (farthest) positive, and the
 * closest negative farther than that positive (semi-hard), or the hardest negative when none is.
 */
export function mineTriplets(embeddings: Float32Array, labels: Int32Array, dim: number): Triplets {
  const n = labels.length;
  if (embeddings.length !== n * dim) {
    throw new Error(
      `expected ${n} x ${dim} embeddings for ${n} labels, got ${embeddings.length} values`,
    );
  }
  const distance = (i: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < dim; k++) s += (embeddings[i * dim + k] - embeddings[j * dim + k]) ** 2;
    return Math.sqrt(s);
  };
  const triplets: Triplets = { anchors: [], positives: [], negatives: [] };
  for (let a = 0; a < n; a++) {
    let positive = -1;
    let positiveDistance = -1;
    for (let j = 0; j < n; j++) {
      if (j === a || labels[j] !== labels[a]) continue;
      const d = distance(a, j);
      if (d > positiveDistance) [positive, positiveDistance] = [j, d];
    }
    if (positive < 0) continue;
    let semiHard = -1;
    let semiHardDistance = Infinity;
    let hardest = -1;
    let hardestDistance = Infinity;
    for (let j = 0; j < n; j++) {
      if (labels[j] === labels[a]) continue;
      const d = distance(a, j);
      if (d < hardestDistance) [hardest, hardestDistance] = [j, d];
      if (d > positiveDistance && d < semiHardDistance) [semiHard, semiHardDistance] = [j, d];
    }
    if (hardest < 0) continue;
    triplets.anchors.push(a);
    triplets.positives.push(positive);
    triplets.negatives.push(semiHard >= 0 ? semiHard : hardest);
  }
  return triplets;
}

/** Hardness d(a,p) - d(a,n) per row: > -margin means the triplet still costs loss. */
export function hardness(a: tf.Tensor2D, p: tf.Tensor2D, n: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(rowDistances(a, p), rowDistances(a, n)) as tf.Tensor1D);
}

/** Mean of [d(a,p) - d(a,n) + margin]+ over rows. */
export function tripletLoss(
  a: tf.Tensor2D,
  p: tf.Tensor2D,
  n: tf.Tensor2D,
  margin = DEFAULT_MARGIN,
): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.relu(tf.add(hardness(a, p, n), margin))) as tf.Scalar);
}

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

export function indexTensor(indices: number[]): tf.Tensor1D {
  return tf.tensor1d(indices, 'int32');
}
