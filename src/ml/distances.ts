/**
 * Euclidean distances between embeddings (L2-normalised, so 0 <= d <= 2), in one place: as tensors
 * inside losses, defences and attack objectives (differentiable), and as plain arrays for mining and the
 * rank metrics (computed on the CPU side, outside any gradient tape).
 */
import * as tf from '@tensorflow/tfjs';

// --- Tensors ---------------------------------------------------------------------------------------

/**
 * d(x_i, x_j) between all rows of one batch, [B, B], with an exact zero diagonal. Coincident rows get a
 * zero gradient instead of sqrt's infinite one (what the losses mine and train on).
 */
export function distancesWithin(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const squaredNorms = tf.sum(tf.square(x), 1);
    const gram = tf.matMul(x, x, false, true);
    const squared = tf.relu(
      tf.sub(
        tf.add(tf.expandDims(squaredNorms, 1), tf.expandDims(squaredNorms, 0)),
        tf.mul(gram, 2),
      ),
    );
    const size = x.shape[0];
    const offDiagonal = tf.sub(1, tf.eye(size));
    // max() routes the gradient of clamped entries to the constant, so sqrt's infinite slope at 0 never leaks.
    return tf.mul(tf.sqrt(tf.maximum(squared, 1e-16)), offDiagonal) as tf.Tensor2D;
  });
}

/** d(a_i, b_j) from every row of a [N, D] to every row of b [M, D], [N, M] (queries against a gallery). */
export function distancesBetween(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, -1]);
    const squared = tf.relu(tf.sub(tf.add(aa, bb), tf.mul(2, tf.matMul(a, b, false, true))));
    return tf.sqrt(tf.add(squared, 1e-12)) as tf.Tensor2D;
  });
}

/** d(a_i, b_i) row by row, [N]; floored inside the root so equal rows stay differentiable. */
export function rowDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
    throw new Error(
      `expected two tensors of the same shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  return tf.tidy(
    () => tf.sqrt(tf.maximum(tf.sum(tf.square(tf.sub(a, b)), 1), 1e-12)) as tf.Tensor1D,
  );
}

/** Cosine similarities between all rows of one batch of L2-normalised embeddings, [B, B]. */
export function similaritiesWithin(x: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, x, false, true);
}

/**
 * Rows of x [N, D] picked by index, as a product with a one-hot matrix: unlike tf.gather, whose gradient
 * needs UnsortedSegmentSum (missing on the wasm backend), MatMul differentiates everywhere. Indices given
 * as numbers are checked against N.
 */
export function selectRows(x: tf.Tensor2D, indices: tf.Tensor1D | ArrayLike<number>): tf.Tensor2D {
  const size = x.shape[0];
  if (!(indices instanceof tf.Tensor)) {
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (index < 0 || index >= size)
        throw new Error(`row index ${index} out of range [0, ${size})`);
    }
  }
  return tf.tidy(() => {
    const picks =
      indices instanceof tf.Tensor
        ? tf.cast(indices, 'int32')
        : tf.tensor1d(Array.from(indices), 'int32');
    return tf.matMul(tf.oneHot(picks as tf.Tensor1D, size).toFloat(), x) as tf.Tensor2D;
  });
}

// --- Plain arrays ----------------------------------------------------------------------------------

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

  /** d(row i, row j). */
  distance(i: number, j: number): number {
    return euclidean(this.row(i), this.row(j));
  }

  /** d(v, row j) for every row j. */
  distancesFrom(v: Float32Array): Float64Array {
    const out = new Float64Array(this.size);
    for (let j = 0; j < this.size; j++) out[j] = euclidean(v, this.row(j));
    return out;
  }

  /** d(row i, row j) for all rows, [N*N] row-major (symmetric, zero diagonal). */
  distancesWithin(): Float64Array {
    const n = this.size;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i] = this.distance(i, j);
    return out;
  }
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
