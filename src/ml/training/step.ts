import * as tf from '@tensorflow/tfjs';
import type { BatchLoss, Defense, Embedder, TrainingBatch } from '../types';

export interface StepGradients {
  loss: number;
  /** Gradients by variable name, in the order of the variable list (Adam keys its state by position). */
  grads: tf.NamedTensorMap;
}

/**
 * One training step's gradients: the defence crafts its inputs outside the tape (no gradient flows
 * through an attack), then the objective is differentiated w.r.t. `variables`. Leaves no tensors behind
 * except the returned gradients. With free training (`defense.inner.freeInput()`), that one backward
 * pass also yields the perturbed input's gradient, which moves the perturbation for the next replay.
 */
export function computeGradients(
  embedder: Embedder,
  variables: tf.Variable[],
  defense: Defense,
  loss: BatchLoss,
  batch: TrainingBatch,
  step: number,
): StepGradients {
  const ctx = { embedder, loss, batch, step };
  const crafted = tf.tidy(() => defense.craft(ctx));
  // Free training: the perturbed input is differentiated in the same backward pass as the weights.
  const free = defense.inner?.freeInput() ?? null;
  try {
    const { value, grads } = tf.variableGrads(
      () => defense.objective(ctx, crafted),
      free ? [...variables, free] : variables,
    );
    let inputGradient: tf.Tensor | null = null;
    if (free) {
      inputGradient = grads[free.name] ?? null;
      delete grads[free.name];
    }
    const lossValue = value.dataSync()[0];
    value.dispose();
    if (!Number.isFinite(lossValue)) {
      tf.dispose(grads);
      inputGradient?.dispose();
      throw new Error(`training loss is not finite (${lossValue}) at step ${step}`);
    }
    if (free) {
      defense.inner?.ascend(inputGradient);
      inputGradient?.dispose();
    }
    return { loss: lossValue, grads };
  } finally {
    tf.dispose(crafted);
  }
}

/** Applies gradients (e.g. averaged over data-parallel replicas) and disposes them. */
export function applyGradients(optimizer: tf.Optimizer, grads: tf.NamedTensorMap): void {
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(grads);
  }
}
