/**
 * The one projected-gradient-descent engine every attack and every robust-training defence uses.
 * An attack is only an objective (a per-sample loss to MINIMISE, built from the embeddings of the
 * perturbed images) plus the choice of its targets; this file owns the ball, the box, the steps,
 * random starts, restarts and the sanity figures.
 */
import * as tf from '@tensorflow/tfjs';
import { readValues } from '../backend/reads';
import type { Embedder } from '../types';

export type PerturbationNorm = 'linf' | 'l2';
/** `cosine` decays the step from alpha towards 0: targeted objectives overshoot with a big fixed step. */
export type StepSchedule = 'constant' | 'cosine';

export interface PgdOptions {
  /** Radius of the ball around the clean image, in pixel units of [0,1]. */
  eps: number;
  /** Step size (for l2: length of the step in the l2 norm). */
  alpha: number;
  steps: number;
  norm?: PerturbationNorm;
  /** Start from a uniform point in the ball instead of the clean image. */
  randomStart?: boolean;
  /** Independent runs; the worst case per sample (lowest objective) is kept. Runs after the first start at random. */
  restarts?: number;
  schedule?: StepSchedule;
  /** Keep, per sample, the iterate with the lowest objective (needs a per-sample objective). */
  keepBest?: boolean;
  seed?: number;
  /**
   * Momentum PGD (MI-FGSM, Dong et al. 2018): each step follows g_t = momentum * g_(t-1) + grad / ||grad||_1
   * (per sample) instead of the gradient alone. Absent or 0: plain PGD.
   */
  momentum?: number;
}

/**
 * The loss to minimise given the embeddings of the perturbed images, computed in inference mode.
 * Shape [B] for a per-sample (separable) objective, or a scalar for a joint one (then keepBest must be off).
 */
export type PgdObjective = (embeddings: tf.Tensor2D, images: tf.Tensor4D) => tf.Tensor;

export interface GradientHealth {
  /** Sample-steps whose input gradient was exactly zero. */
  zero: number;
  /** Sample-steps whose input gradient had a NaN or infinite entry. */
  nonFinite: number;
  total: number;
}

export interface PgdResult {
  adversarial: tf.Tensor4D;
  /** Objective of the returned images, per sample ([1] for a joint objective). */
  objective: Float32Array;
  /** Objective of the clean images, the same way (so callers can check the attack moved it). */
  initialObjective: Float32Array;
  /** Largest perturbation actually measured, in the attack's norm. */
  maxPerturbation: number;
  gradients: GradientHealth;
}

export function validatePgdOptions(options: PgdOptions): void {
  const { eps, alpha, steps } = options;
  if (!Number.isFinite(eps) || eps < 0 || eps > 1)
    throw new Error(`eps must be in [0, 1] (got ${eps})`);
  if (!Number.isFinite(alpha) || alpha <= 0)
    throw new Error(`alpha (step size) must be > 0 (got ${alpha})`);
  if (!Number.isInteger(steps) || steps <= 0)
    throw new Error(`steps must be a positive integer (got ${steps})`);
  const restarts = options.restarts ?? 1;
  if (!Number.isInteger(restarts) || restarts < 1)
    throw new Error(`restarts must be an integer >= 1 (got ${restarts})`);
  const norm = options.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2')
    throw new Error(`norm must be 'linf' or 'l2' (got '${String(norm)}')`);
  const momentum = options.momentum ?? 0;
  if (!Number.isFinite(momentum) || momentum < 0)
    throw new Error(`momentum must be >= 0 (got ${momentum})`);
}

/** Step size at step t of n. */
function stepSize(options: PgdOptions, t: number): number {
  if ((options.schedule ?? 'constant') === 'constant') return options.alpha;
  return options.alpha * 0.5 * (1 + Math.cos((Math.PI * t) / options.steps));
}

/** Sum over all axes but the first, keeping a [B] vector. */
function perSample(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.reshape(x, [x.shape[0], -1]), 1) as tf.Tensor1D;
}

/** Projection onto the ball around x0 intersected with the pixel box [0,1]. */
function project(
  x: tf.Tensor4D,
  x0: tf.Tensor4D,
  eps: number,
  norm: PerturbationNorm,
): tf.Tensor4D {
  return tf.tidy(() => {
    let delta = tf.sub(x, x0);
    if (norm === 'linf') {
      delta = tf.clipByValue(delta, -eps, eps);
    } else {
      const length = tf.sqrt(tf.add(perSample(tf.square(delta)), 1e-12));
      const factor = tf.minimum(1, tf.div(eps, length));
      delta = tf.mul(delta, tf.reshape(factor, [-1, 1, 1, 1]));
    }
    return tf.clipByValue(tf.add(x0, delta), 0, 1) as tf.Tensor4D;
  });
}

function randomPoint(
  x0: tf.Tensor4D,
  eps: number,
  norm: PerturbationNorm,
  seed: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    let noise = tf.randomUniform(x0.shape, -eps, eps, 'float32', seed);
    if (norm === 'l2') {
      // A random direction scaled to a random radius inside the ball.
      const length = tf.sqrt(tf.add(perSample(tf.square(noise)), 1e-12));
      const radius = tf.mul(tf.randomUniform([x0.shape[0]], 0, 1, 'float32', seed + 1), eps);
      noise = tf.mul(noise, tf.reshape(tf.div(radius, length), [-1, 1, 1, 1]));
    }
    return project(tf.add(x0, noise) as tf.Tensor4D, x0, eps, norm);
  });
}

function maxPerturbationOf(x: tf.Tensor4D, x0: tf.Tensor4D, norm: PerturbationNorm): tf.Scalar {
  return tf.tidy(() => {
    const delta = tf.sub(x, x0);
    return (
      norm === 'linf' ? tf.max(tf.abs(delta)) : tf.max(tf.sqrt(perSample(tf.square(delta))))
    ) as tf.Scalar;
  });
}

/** A PGD run's result as tensors, before any value is read back (see `pgd`). */
export interface PgdTensors {
  adversarial: tf.Tensor4D;
  /** [objective per sample (or [1]), initial objective likewise, max perturbation, zero, non-finite]. */
  figures: tf.Tensor1D;
  /** Sample-steps whose gradient the health counts cover. */
  sampleSteps: number;
}

/** PgdResult from a run's tensors and its figures' values (disposes the figures, not the images). */
export function pgdResultOf(run: PgdTensors, figures: ArrayLike<number>): PgdResult {
  const n = (figures.length - 3) / 2;
  const values = Float32Array.from(figures);
  run.figures.dispose();
  return {
    adversarial: run.adversarial,
    objective: values.slice(0, n),
    initialObjective: values.slice(n, 2 * n),
    maxPerturbation: values[2 * n],
    gradients: { zero: values[2 * n + 1], nonFinite: values[2 * n + 2], total: run.sampleSteps },
  };
}

/**
 * Minimises `objective` over perturbations of `x0` (not disposed; the caller owns it). The model runs in
 * inference mode. Returns tensors the caller must dispose (`adversarial`). Reads values back once, at the
 * end (`pgdTensors` then `pgdResultOf` with `await figures.data()` where reads must be asynchronous).
 */
export function pgd(
  embedder: Embedder,
  x0: tf.Tensor4D,
  objective: PgdObjective,
  options: PgdOptions,
): PgdResult {
  const run = pgdTensors(embedder, x0, objective, options);
  return pgdResultOf(run, readValues(run.figures));
}

/** `pgd` without reading anything back: the adversarial images and the figures as one tensor. */
export function pgdTensors(
  embedder: Embedder,
  x0: tf.Tensor4D,
  objective: PgdObjective,
  options: PgdOptions,
): PgdTensors {
  validatePgdOptions(options);
  const norm = options.norm ?? 'linf';
  const restarts = options.restarts ?? 1;
  const keepBest = options.keepBest ?? false;
  const seed = options.seed ?? 0;
  const momentum = options.momentum ?? 0;
  const batch = x0.shape[0];
  // [zero, non-finite] sample-steps, summed on the device: no read back inside the loop.
  let health: tf.Tensor1D = tf.zeros([2]);
  let sampleSteps = 0;

  const lossOf = (x: tf.Tensor): tf.Tensor =>
    objective(embedder.embed(x as tf.Tensor4D, false), x as tf.Tensor4D);
  const evaluate = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => tf.reshape(lossOf(x), [-1]));

  const initialObjective = evaluate(x0) as tf.Tensor1D;
  let best: tf.Tensor4D | null = null;
  let bestLoss: tf.Tensor1D | null = null;
  // Keeps, per sample, whichever of (best, candidate) has the lower loss.
  const offer = (candidate: tf.Tensor4D, loss: tf.Tensor): void => {
    if (!best || !bestLoss) {
      best = candidate.clone();
      bestLoss = tf.tidy(() => tf.reshape(loss, [-1]).clone()) as tf.Tensor1D;
      return;
    }
    if (loss.size !== batch) {
      if (keepBest)
        throw new Error(
          `keepBest needs a per-sample objective of shape [${batch}] (got ${loss.size} values)`,
        );
      // Joint objective: compare the batch as a whole.
      const [nextBest, nextLoss] = tf.tidy(() => {
        const flat = tf.reshape(loss, [-1]);
        const better = tf.less(tf.sum(flat), tf.sum(bestLoss as tf.Tensor1D));
        return [
          tf.where(
            tf.broadcastTo(better, candidate.shape),
            candidate,
            best as tf.Tensor4D,
          ) as tf.Tensor4D,
          tf.where(
            tf.broadcastTo(better, flat.shape),
            flat,
            bestLoss as tf.Tensor1D,
          ) as tf.Tensor1D,
        ];
      });
      best.dispose();
      bestLoss.dispose();
      best = nextBest;
      bestLoss = nextLoss;
      return;
    }
    const [nextBest, nextLoss] = tf.tidy(() => {
      const flat = tf.reshape(loss, [-1]);
      const better = tf.less(flat, bestLoss as tf.Tensor1D);
      const mask = tf.reshape(better, [-1, 1, 1, 1]);
      return [
        tf.where(
          tf.broadcastTo(mask, candidate.shape),
          candidate,
          best as tf.Tensor4D,
        ) as tf.Tensor4D,
        tf.where(better, flat, bestLoss as tf.Tensor1D) as tf.Tensor1D,
      ];
    });
    best.dispose();
    bestLoss.dispose();
    best = nextBest;
    bestLoss = nextLoss;
  };

  for (let run = 0; run < restarts; run++) {
    const random = run > 0 || (options.randomStart ?? false);
    let x = random
      ? randomPoint(x0, options.eps, norm, seed + 7919 * run)
      : (x0.clone() as tf.Tensor4D);
    // The accumulated gradient of momentum PGD (one per restart).
    let velocity: tf.Tensor | null = null;
    for (let t = 0; t < options.steps; t++) {
      const alpha = stepSize(options, t);
      let lossAtX: tf.Tensor | null = null;
      let nextVelocity: tf.Tensor | null = null;
      let nextHealth: tf.Tensor1D | null = null;
      const next = tf.tidy(() => {
        const { grad } = tf.valueAndGrad((input: tf.Tensor) => {
          const loss = lossOf(input);
          lossAtX = tf.keep(loss);
          return tf.sum(loss) as tf.Scalar;
        })(x);
        const stepHealth = tf.stack([
          tf.sum(tf.cast(tf.equal(perSample(tf.abs(grad)), 0), 'float32')),
          tf.sum(tf.cast(tf.logicalNot(tf.isFinite(perSample(grad))), 'float32')),
        ]);
        nextHealth = tf.keep(tf.add(health, stepHealth) as tf.Tensor1D);
        let ascent: tf.Tensor = grad;
        if (momentum > 0) {
          // A non-finite entry would stay in the sum for good: it counts as no gradient there.
          const finite = tf.where(tf.isFinite(grad), grad, tf.zerosLike(grad));
          const l1 = tf.add(perSample(tf.abs(finite)), 1e-12);
          const scaled = tf.div(finite, tf.reshape(l1, [-1, 1, 1, 1]));
          ascent = velocity ? tf.add(tf.mul(velocity, momentum), scaled) : scaled;
          nextVelocity = tf.keep(ascent);
        }
        let direction: tf.Tensor;
        if (norm === 'linf') {
          direction = tf.sign(ascent);
        } else {
          const length = tf.sqrt(tf.add(perSample(tf.square(ascent)), 1e-12));
          direction = tf.div(ascent, tf.reshape(length, [-1, 1, 1, 1]));
        }
        // A non-finite gradient must not poison the image: such entries take no step.
        direction = tf.where(tf.isFinite(direction), direction, tf.zerosLike(direction));
        return project(tf.sub(x, tf.mul(direction, alpha)) as tf.Tensor4D, x0, options.eps, norm);
      });
      if (lossAtX) {
        if (keepBest) offer(x, lossAtX);
        (lossAtX as tf.Tensor).dispose();
      }
      x.dispose();
      x = next;
      sampleSteps += batch;
      if (nextHealth) {
        health.dispose();
        health = nextHealth;
      }
      if (nextVelocity) {
        (velocity as tf.Tensor | null)?.dispose();
        velocity = nextVelocity as tf.Tensor;
      }
    }
    (velocity as tf.Tensor | null)?.dispose();
    const finalLoss = evaluate(x);
    offer(x, finalLoss);
    finalLoss.dispose();
    x.dispose();
  }
  // Both are always set by the loop above (restarts >= 1).
  const adversarial = best as unknown as tf.Tensor4D;
  const lossTensor = bestLoss as unknown as tf.Tensor1D;
  const figures = tf.tidy(() =>
    tf.concat([
      lossTensor,
      initialObjective,
      tf.reshape(maxPerturbationOf(adversarial, x0, norm), [1]),
      health,
    ]),
  ) as tf.Tensor1D;
  tf.dispose([lossTensor, initialObjective, health]);
  return { adversarial, figures, sampleSteps };
}
