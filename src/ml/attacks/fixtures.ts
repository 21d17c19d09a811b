/**
 * Tiny, fully determined embedders and image sets for tests of attacks and defences: a fixed linear
 * map of a few pixels followed by L2 normalisation, so that expected values can be computed by hand.
 */
import * as tf from '@tensorflow/tfjs';
import type { Embedder, ImageSet } from '../types';
import { SeededRandom } from './random';

/** phi(x) = normalise(flatten(x) W); W is [H*W*C, D]. The caller disposes `weights` via `dispose`. */
export function linearEmbedder(
  shape: [number, number, number],
  weights: number[][],
): Embedder & { dispose(): void } {
  const inputs = shape[0] * shape[1] * shape[2];
  if (weights.length !== inputs)
    throw new Error(`weights need ${inputs} rows, got ${weights.length}`);
  const w = tf.tensor2d(weights);
  return {
    inputShape: shape,
    embeddingDim: weights[0].length,
    embed: (images) =>
      tf.tidy(() => {
        if (images.shape.slice(1).join('x') !== shape.join('x')) {
          throw new Error(
            `expected images [B,${shape.join(',')}], got [${images.shape.join(',')}]`,
          );
        }
        const out = tf.matMul(tf.reshape(images, [images.shape[0], inputs]), w);
        return tf.div(out, tf.add(tf.norm(out, 2, 1, true), 1e-12)) as tf.Tensor2D;
      }),
    dispose: () => w.dispose(),
  };
}

/** A random dense weight matrix (seeded). */
export function randomWeights(rows: number, cols: number, seed: number): number[][] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.next() * 2 - 1));
}

/**
 * `classes` classes of `perClass` images each: a class prototype in [0.25, 0.75] plus small noise, so
 * a linear embedding separates them cleanly and eps-sized perturbations can still reach the box edges.
 */
export function prototypeImages(
  shape: [number, number, number],
  classes: number,
  perClass: number,
  seed: number,
  noise = 0.05,
): ImageSet {
  const rng = new SeededRandom(seed);
  const size = shape[0] * shape[1] * shape[2];
  const prototypes = Array.from({ length: classes }, () =>
    Array.from({ length: size }, () => 0.25 + 0.5 * rng.next()),
  );
  const images = new Float32Array(classes * perClass * size);
  const labels = new Int32Array(classes * perClass);
  for (let c = 0; c < classes; c++) {
    for (let k = 0; k < perClass; k++) {
      const i = c * perClass + k;
      labels[i] = c;
      for (let p = 0; p < size; p++)
        images[i * size + p] = prototypes[c][p] + noise * (2 * rng.next() - 1);
    }
  }
  return { images, labels, shape };
}
