/**
 * Tiny, fully determined embedders and image sets for tests of attacks and defences: a fixed linear
 * map of a few pixels followed by L2 normalisation, so that expected values can be computed by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { applyGradients, computeGradients } from '../../src/ml/training/step';
import type { Defense, DefenseContext, Embedder, ImageSet } from '../../src/ml/types';
import { SeededRandom } from '../../src/ml/data/random';

/** phi(x) = normalise(flatten(x) W + bias); W is [H*W*C, D]. The caller frees the weights with `dispose`. */
export function linearEmbedder(
  shape: [number, number, number],
  weights: number[][],
  bias?: number[],
): Embedder & { dispose(): void } {
  const inputs = shape[0] * shape[1] * shape[2];
  if (weights.length !== inputs)
    throw new Error(`weights need ${inputs} rows, got ${weights.length}`);
  const w = tf.tensor2d(weights);
  const b = tf.tensor1d(bias ?? new Array<number>(weights[0].length).fill(0));
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
        const out = tf.add(tf.matMul(tf.reshape(images, [images.shape[0], inputs]), w), b);
        return tf.div(out, tf.add(tf.norm(out, 2, 1, true), 1e-12)) as tf.Tensor2D;
      }),
    dispose: () => tf.dispose([w, b]),
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

/**
 * Images of a 1x1x2 "identity-like" model: pixel (0.5 + r cos a, 0.5 + r sin a) embeds (W = I, bias -0.5)
 * to the unit vector at angle a, so every attack can be worked out by hand on a circle.
 */
export function circleImages(anglesDegrees: number[], labels: number[], radius = 0.1): ImageSet {
  const images = new Float32Array(anglesDegrees.length * 2);
  anglesDegrees.forEach((deg, i) => {
    const a = (deg * Math.PI) / 180;
    images[2 * i] = 0.5 + radius * Math.cos(a);
    images[2 * i + 1] = 0.5 + radius * Math.sin(a);
  });
  return { images, labels: Int32Array.from(labels), shape: [1, 1, 2] };
}

export function circleEmbedder(): Embedder & { dispose(): void } {
  return linearEmbedder(
    [1, 1, 2],
    [
      [1, 0],
      [0, 1],
    ],
    [-0.5, -0.5],
  );
}

/** A trainable embedder: flatten, dense (seeded), L2-normalise; `variables` are what an optimizer updates. */
export function trainableEmbedder(
  shape: [number, number, number],
  dim: number,
  seed: number,
): Embedder & { variables: tf.Variable[]; dispose(): void } {
  const inputs = shape[0] * shape[1] * shape[2];
  const w = tf.variable(tf.tensor2d(randomWeights(inputs, dim, seed)).mul(Math.sqrt(3 / inputs)));
  const b = tf.variable(tf.zeros([dim]));
  return {
    inputShape: shape,
    embeddingDim: dim,
    variables: [w, b],
    embed: (images) =>
      tf.tidy(() => {
        const centred = tf.sub(tf.reshape(images, [images.shape[0], inputs]), 0.5);
        const out = tf.add(tf.matMul(centred, w), b);
        return tf.div(out, tf.add(tf.norm(out, 2, 1, true), 1e-12)) as tf.Tensor2D;
      }),
    dispose: () => tf.dispose([w, b]),
  };
}

/** Batch-hard triplet loss (margin 0.2), differentiable, for tests that need a BatchLoss. */
export const batchHardTripletLoss = (embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar =>
  tf.tidy(() => {
    const sq = tf.sum(tf.square(embeddings), 1, true);
    const d = tf.sqrt(
      tf.add(
        tf.relu(
          tf.sub(
            tf.add(sq, tf.transpose(sq)),
            tf.mul(2, tf.matMul(embeddings, embeddings, false, true)),
          ),
        ),
        1e-12,
      ),
    );
    const same = tf.cast(tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)), 'float32');
    const hardestPositive = tf.max(tf.mul(d, same), 1);
    const hardestNegative = tf.min(tf.add(d, tf.mul(4, same)), 1);
    return tf.mean(tf.relu(tf.add(tf.sub(hardestPositive, hardestNegative), 0.2))) as tf.Scalar;
  });

export type TrainableEmbedder = ReturnType<typeof trainableEmbedder>;

/** The image shape of the defence specs' batch: 4x4 grey. */
export const PROTOTYPE_SHAPE: [number, number, number] = [4, 4, 1];

/** The defence specs' batch: 4 classes x 4 noisy copies of a prototype (an m-per-class batch of 16). */
export function prototypeBatch(): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const set = prototypeImages(PROTOTYPE_SHAPE, 4, 4, 21, 0.15);
  return {
    images: tf.tensor4d(set.images, [16, ...PROTOTYPE_SHAPE]),
    labels: tf.tensor1d(set.labels, 'int32'),
  };
}

/** One optimizer step of `defense` on `batch` the way the trainer runs it (training/step.ts); returns the loss. */
export function defenseTrainStep(
  embedder: TrainableEmbedder,
  defense: Defense,
  optimizer: tf.Optimizer,
  batch: DefenseContext['batch'],
  step: number,
): number {
  const result = computeGradients(
    embedder,
    embedder.variables,
    defense,
    batchHardTripletLoss,
    batch,
    step,
  );
  applyGradients(optimizer, result.grads);
  return result.loss;
}
