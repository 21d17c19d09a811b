import type * as tf from '@tensorflow/tfjs';
import { readValues } from '../backend/reads';

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

/** Reads a [B, B] matrix into row-major numbers (outside or inside a tape: mining uses values only). */
export function readMatrix(matrix: tf.Tensor2D): Float32Array {
  return readValues(matrix);
}
