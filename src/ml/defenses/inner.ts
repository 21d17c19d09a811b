/** The inner maximisation every robust defence shares: the PGD engine in inference mode, one restart. */
import * as tf from '@tensorflow/tfjs';
import { pgd, type PgdObjective } from '../attacks/pgd';
import type { DefenseContext, Embedder, TrainingBatch } from '../types';
import type { ResolvedDefenseOptions } from './options';
import { mineNaturalTriplets, type Triplets } from './triplets';

/** Perturbs `images` to MINIMISE `objective` (pass a negated loss to maximise it). */
export function innerAttack(
  ctx: DefenseContext,
  images: tf.Tensor4D,
  objective: PgdObjective,
  options: ResolvedDefenseOptions,
  randomStart: boolean,
): tf.Tensor4D {
  const result = pgd(ctx.embedder, images, objective, {
    eps: options.eps,
    alpha: options.alpha,
    steps: options.steps,
    randomStart,
    restarts: 1,
    keepBest: false,
    seed: options.seed + 1009 * ctx.step,
  });
  return result.adversarial;
}

/** Natural embeddings in inference mode, and the triplets mined on them. */
export function mineOnNatural(
  embedder: Embedder,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
): { embeddings: Float32Array; triplets: Triplets } {
  const embeddings = tf.tidy(() => embedder.embed(images, false).dataSync() as Float32Array);
  const triplets = mineNaturalTriplets(
    embeddings,
    labels.dataSync() as unknown as Int32Array,
    embedder.embeddingDim,
  );
  if (triplets.anchors.length === 0) {
    throw new Error(
      'no triplet in the batch: it needs at least two classes with two images each (use an m-per-class sampler)',
    );
  }
  return { embeddings, triplets };
}

export function gatherBatch<T extends tf.Tensor>(x: T, indices: ArrayLike<number>): T {
  return tf.tidy(() => tf.gather(x, tf.tensor1d(Array.from(indices), 'int32')) as T);
}

/**
 * The batch's class rows (all of it when it has no instance-term views). Returns the batch's own
 * tensors when nothing is cut, new ones otherwise (the caller disposes those).
 */
export function classRowsOf(batch: TrainingBatch): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const rows = batch.images.shape[0];
  const classRows = batch.classRows ?? rows;
  if (!Number.isInteger(classRows) || classRows < 2 || classRows > rows) {
    throw new Error(`classRows must be an integer in [2, ${rows}] (got ${classRows})`);
  }
  if (classRows === rows) return { images: batch.images, labels: batch.labels };
  return {
    images: batch.images.slice([0, 0, 0, 0], [classRows, -1, -1, -1]),
    labels: batch.labels.slice(0, classRows),
  };
}
