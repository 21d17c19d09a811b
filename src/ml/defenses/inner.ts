/**
 * The inner maximisation every robust defence shares. A defence names what to perturb and the objective;
 * the method comes from its options (`inner`):
 * - pgd: the PGD engine in inference mode, one restart, the defence's steps and step size;
 * - fast: one signed-gradient step of 1.25 eps from a uniform random start in the eps ball, projected
 *   onto the ball and the pixel box (FGSM-RS; Wong, Rice and Kolter, "Fast is better than free", 2020);
 * - free: no attack step at craft time. The perturbed input is handed back as a variable, the trainer
 *   differentiates it in the same backward pass as the weights and `ascend` moves the perturbation
 *   (delta = clip(delta + eps sign(grad))), carried over to the next replay of the batch (Shafahi et al.,
 *   "Adversarial training for free!", 2019). As there, the perturbation also carries over from one batch
 *   to the next when the perturbed tensor keeps its shape.
 */
import * as tf from '@tensorflow/tfjs';
import { pgdTensors, type PgdObjective } from '../attacks/pgd';
import type { DefenseContext, Embedder, InnerMaximisation, TrainingBatch } from '../types';
import {
  FAST_STEP_FACTOR,
  type ResolvedDefenseOptions,
  type ResolvedInnerOptions,
} from './options';
import { mineNaturalTriplets, type Triplets } from './triplets';
import { readValues } from '../backend/reads';

/** Perturbs `images` to MINIMISE `objective` (pass a negated loss to maximise it) with PGD. */
export function innerAttack(
  ctx: DefenseContext,
  images: tf.Tensor4D,
  objective: PgdObjective,
  options: ResolvedDefenseOptions,
  randomStart: boolean,
): tf.Tensor4D {
  // Training needs the images only: no figures read back (a read stalls a GPU backend).
  const result = pgdTensors(ctx.embedder, images, objective, {
    eps: options.eps,
    alpha: options.alpha,
    steps: options.steps,
    randomStart,
    restarts: 1,
    keepBest: false,
    seed: options.seed + 1009 * ctx.step,
  });
  result.figures.dispose();
  return result.adversarial;
}

/** x projected onto the L-inf ball of radius eps around x0 and the pixel box [0,1]. */
function projectLinf(x: tf.Tensor4D, x0: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(
    () => tf.clipByValue(tf.add(x0, tf.clipByValue(tf.sub(x, x0), -eps, eps)), 0, 1) as tf.Tensor4D,
  );
}

/**
 * The fast method: from x0 + U(-eps, eps) (in the box), one step of 1.25 eps against the sign of the
 * objective's gradient, projected. One forward and one backward pass, in inference mode.
 */
export function fastPerturbation(
  embedder: Embedder,
  x0: tf.Tensor4D,
  objective: PgdObjective,
  eps: number,
  seed: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const noise = tf.randomUniform(x0.shape, -eps, eps, 'float32', seed);
    const start = tf.clipByValue(tf.add(x0, noise), 0, 1) as tf.Tensor4D;
    const grad = tf.grad((x: tf.Tensor) =>
      tf.sum(objective(embedder.embed(x as tf.Tensor4D, false), x as tf.Tensor4D)),
    )(start);
    // A non-finite gradient must not poison the image: such entries take no step.
    const direction = tf.where(tf.isFinite(grad), tf.sign(grad), tf.zerosLike(grad));
    return projectLinf(tf.sub(start, tf.mul(direction, FAST_STEP_FACTOR * eps)), x0, eps);
  });
}

/**
 * A defence's inner maximisation (one per defence instance: free's perturbation lives here between
 * steps). `settings` is what the manifest's defence config records, with the fallback epoch if any.
 */
export class InnerMaximiser implements InnerMaximisation {
  readonly settings: ResolvedInnerOptions & { fellBackToPgdAfterEpoch?: number };
  private current: 'pgd' | 'fast' | 'free';
  /** free: the perturbation carried between replays (and batches of the same shape). */
  private delta: tf.Tensor4D | null = null;
  /** free: the input the last craft returned and the clean images under it. */
  private pending: { input: tf.Variable; clean: tf.Tensor4D } | null = null;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.settings = { ...options.inner };
    this.current = options.inner.method;
  }

  get method(): 'pgd' | 'fast' | 'free' {
    return this.current;
  }

  get eps(): number {
    return this.options.eps;
  }

  get replays(): number {
    return this.current === 'free' && this.settings.method === 'free' ? this.settings.replays : 1;
  }

  get onOverfit(): 'warn' | 'stop' | 'fallback' | null {
    return this.settings.method === 'pgd' ? null : this.settings.onOverfit;
  }

  /**
   * Perturbs `images` (not disposed) to MINIMISE `objective`; a defence calls it once per craft.
   * `randomStart` applies to PGD; fast always starts at random, free from the carried perturbation.
   */
  perturb(
    ctx: DefenseContext,
    images: tf.Tensor4D,
    objective: PgdObjective,
    randomStart: boolean,
  ): tf.Tensor4D {
    const seed = this.options.seed + 1009 * ctx.step;
    switch (this.current) {
      case 'pgd':
        return innerAttack(ctx, images, objective, this.options, randomStart);
      case 'fast':
        return fastPerturbation(ctx.embedder, images, objective, this.options.eps, seed);
      case 'free':
        return this.freeInputFor(images);
    }
  }

  private freeInputFor(images: tf.Tensor4D): tf.Tensor4D {
    this.dropPending();
    const shape = images.shape.join('x');
    if (this.delta && this.delta.shape.join('x') !== shape) {
      this.delta.dispose();
      this.delta = null;
    }
    // Kept: craft runs inside a tidy, and these outlive it.
    const delta: tf.Tensor4D = this.delta ?? tf.keep(tf.zeros<tf.Rank.R4>(images.shape));
    this.delta = delta;
    const clean = tf.keep(images.clone());
    const input = tf.variable(
      tf.tidy(() => tf.clipByValue(tf.add(clean, delta), 0, 1)),
      true,
    );
    this.pending = { input, clean };
    return input as tf.Tensor4D;
  }

  freeInput(): tf.Variable | null {
    return this.current === 'free' ? (this.pending?.input ?? null) : null;
  }

  ascend(gradient: tf.Tensor | null): void {
    const pending = this.pending;
    if (!pending) throw new Error('ascend needs a free perturbation crafted first');
    if (gradient) {
      const eps = this.options.eps;
      const next = tf.tidy(() => {
        const sign = tf.where(tf.isFinite(gradient), tf.sign(gradient), tf.zerosLike(gradient));
        // The step ascends the training objective (the weights descend it); the applied
        // perturbation (input - clean) is the start, so delta stays inside the ball and the box.
        const moved = tf.add(tf.sub(pending.input, pending.clean), tf.mul(sign, eps));
        const projected = projectLinf(
          tf.add(pending.clean, moved) as tf.Tensor4D,
          pending.clean,
          eps,
        );
        return tf.sub(projected, pending.clean) as tf.Tensor4D;
      });
      this.delta?.dispose();
      this.delta = tf.keep(next);
    }
    this.dropPending();
  }

  fallBackToPgd(epoch: number): void {
    if (this.current === 'pgd') return;
    this.current = 'pgd';
    this.settings.fellBackToPgdAfterEpoch = epoch;
    this.dispose();
  }

  dispose(): void {
    this.dropPending();
    this.delta?.dispose();
    this.delta = null;
  }

  /** The input variable belongs to the crafted tensors (the trainer disposes them); the clean copy is ours. */
  private dropPending(): void {
    this.pending?.clean.dispose();
    this.pending = null;
  }
}

/** Natural embeddings in inference mode, and the triplets mined on them. */
export function mineOnNatural(
  embedder: Embedder,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
): { embeddings: Float32Array; triplets: Triplets } {
  const embeddings = tf.tidy(() => readValues(embedder.embed(images, false)));
  const triplets = mineNaturalTriplets(
    embeddings,
    readValues<Int32Array>(labels),
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
