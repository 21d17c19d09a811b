import * as tf from '@tensorflow/tfjs';

/** Checks that embeddings are [B, D] and labels [B]. */
export function checkBatch(embeddings: tf.Tensor, labels: tf.Tensor): void {
  if (embeddings.rank !== 2)
    throw new Error(`expected embeddings of shape [B, D], got [${embeddings.shape.join(', ')}]`);
  if (labels.rank !== 1 || labels.shape[0] !== embeddings.shape[0]) {
    throw new Error(
      `expected labels of shape [${embeddings.shape[0]}], got [${labels.shape.join(', ')}]`,
    );
  }
}

/**
 * Euclidean distances between all rows, [B, B], with an exact zero diagonal. Coincident rows get a zero
 * gradient instead of sqrt's infinite one.
 */
export function pairwiseDistances(embeddings: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const squaredNorms = tf.sum(tf.square(embeddings), 1);
    const gram = tf.matMul(embeddings, embeddings, false, true);
    const squared = tf.relu(
      tf.sub(
        tf.add(tf.expandDims(squaredNorms, 1), tf.expandDims(squaredNorms, 0)),
        tf.mul(gram, 2),
      ),
    );
    const size = embeddings.shape[0];
    const offDiagonal = tf.sub(1, tf.eye(size));
    // max() routes the gradient of clamped entries to the constant, so sqrt's infinite slope at 0 never leaks.
    return tf.mul(tf.sqrt(tf.maximum(squared, 1e-16)), offDiagonal) as tf.Tensor2D;
  });
}

/** Row-wise Euclidean distance d(a_i, b_i), [B]; floored inside the root so equal rows stay differentiable. */
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

/** Cosine similarities between all rows of L2-normalised embeddings, [B, B]. */
export function pairwiseSimilarities(embeddings: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(embeddings, embeddings, false, true);
}

/** Reads a [B, B] matrix into row-major numbers (outside or inside a tape: mining uses values only). */
export function readMatrix(matrix: tf.Tensor2D): Float32Array {
  return matrix.dataSync() as Float32Array;
}

/**
 * Rows of `embeddings` picked by index, as a product with a constant one-hot matrix: unlike tf.gather,
 * whose gradient needs UnsortedSegmentSum (missing on the wasm backend), MatMul differentiates everywhere.
 */
export function selectRows(embeddings: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const size = embeddings.shape[0];
  const picks = new Float32Array(indices.length * size);
  indices.forEach((index, row) => {
    if (index < 0 || index >= size) throw new Error(`row index ${index} out of range [0, ${size})`);
    picks[row * size + index] = 1;
  });
  return tf.tidy(() => tf.matMul(tf.tensor2d(picks, [indices.length, size]), embeddings));
}
