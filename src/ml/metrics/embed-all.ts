import * as tf from '@tensorflow/tfjs';
import { readLater, readNow, type Reads } from '../backend/reads';
import type { Embedder, ImageSet } from '../types';

/** Embeds every image of a set in inference mode, batch by batch; returns N x D values. */
export function embedAll(embedder: Embedder, set: ImageSet, batchSize = 256): Float32Array {
  return readNow(embedAllSteps(embedder, set, batchSize));
}

/** embedAll reading each batch back asynchronously: on every backend, webgpu included. */
export function embedAllAsync(
  embedder: Embedder,
  set: ImageSet,
  batchSize = 256,
): Promise<Float32Array> {
  return readLater(embedAllSteps(embedder, set, batchSize));
}

/** embedAll as steps that yield each batch's embeddings to be read (src/ml/backend/reads.ts). */
export function* embedAllSteps(
  embedder: Embedder,
  set: ImageSet,
  batchSize = 256,
): Reads<Float32Array> {
  const [h, w, c] = set.shape;
  const [eh, ew, ec] = embedder.inputShape;
  if (h !== eh || w !== ew || c !== ec) {
    throw new Error(
      `model expects images of shape [${eh}, ${ew}, ${ec}], data set has [${h}, ${w}, ${c}]`,
    );
  }
  const size = h * w * c;
  const count = set.labels.length;
  const out = new Float32Array(count * embedder.embeddingDim);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const batch = tf.tidy(() => {
      const images = tf.tensor4d(set.images.subarray(start * size, end * size), [
        end - start,
        h,
        w,
        c,
      ]);
      return embedder.embed(images, false);
    });
    try {
      out.set(yield batch, start * embedder.embeddingDim);
    } finally {
      batch.dispose();
    }
  }
  return out;
}

/** The raw-pixel baseline: each image's pixels as its "embedding" (plain Euclidean kNN on pixels). */
export function pixelEmbeddings(set: ImageSet): { embeddings: Float32Array; dim: number } {
  return { embeddings: set.images, dim: set.shape[0] * set.shape[1] * set.shape[2] };
}
