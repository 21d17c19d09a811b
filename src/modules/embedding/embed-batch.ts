/**
 * The embedding worker's step for one batch, kept apart from the thread plumbing so that it can be
 * tested in this thread (tensor bookkeeping included). Framework-free.
 */
import * as tf from '@tensorflow/tfjs';
import type { Embedder } from '../../ml/types';

/**
 * Embeds `count` images given as one NHWC block of pixels in [0,1]; returns count x embeddingDim
 * L2-normalised values in a buffer of its own (transferable). Every tensor it makes is disposed, also
 * when the model throws. Synchronous: not on webgpu, which reads back only asynchronously
 * (`embedBatchAsync`).
 */
export function embedBatch(
  embedder: Embedder,
  pixels: Float32Array,
  count: number,
): Float32Array<ArrayBuffer> {
  const embeddings = embeddingsOf(embedder, pixels, count);
  try {
    // dataSync may hand out the backend's own memory: copy into a buffer the caller can transfer.
    return new Float32Array(embeddings.dataSync() as Float32Array);
  } finally {
    embeddings.dispose();
  }
}

/** embedBatch reading the embeddings back asynchronously: on every backend, webgpu included. */
export async function embedBatchAsync(
  embedder: Embedder,
  pixels: Float32Array,
  count: number,
): Promise<Float32Array<ArrayBuffer>> {
  const embeddings = embeddingsOf(embedder, pixels, count);
  try {
    return new Float32Array((await embeddings.data()) as Float32Array);
  } finally {
    embeddings.dispose();
  }
}

function embeddingsOf(embedder: Embedder, pixels: Float32Array, count: number): tf.Tensor2D {
  const [h, w, c] = embedder.inputShape;
  const expected = count * h * w * c;
  if (pixels.length !== expected) {
    throw new Error(
      `expected ${count} images of [${h}, ${w}, ${c}] (${expected} values), got ${pixels.length}`,
    );
  }
  return tf.tidy(() => embedder.embed(tf.tensor4d(pixels, [count, h, w, c]), false));
}
