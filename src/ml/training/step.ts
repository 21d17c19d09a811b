import * as tf from '@tensorflow/tfjs';
import { withReads } from '../backend/reads';
import type { AdamState } from './adam';
import type { BatchLoss, Defense, DefenseContext, Embedder, TrainingBatch } from '../types';

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
 * Synchronous: for backends that read values back synchronously (cpu, wasm, tensorflow); the trainer
 * calls `computeGradientsAsync`, which runs on webgpu too.
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
  try {
    const taped = tape(ctx, defense, variables, crafted);
    return finishStep(defense, taped, taped.value.dataSync()[0], step);
  } finally {
    tf.dispose(crafted);
  }
}

/**
 * computeGradients on any backend, webgpu included (it reads values back only asynchronously): the
 * crafting and the tape each run inside withReads (a plain call elsewhere), the loss is read after.
 */
export async function computeGradientsAsync(
  embedder: Embedder,
  variables: tf.Variable[],
  defense: Defense,
  loss: BatchLoss,
  batch: TrainingBatch,
  step: number,
): Promise<StepGradients> {
  const ctx = { embedder, loss, batch, step };
  const crafted = await withReads(() => tf.tidy(() => defense.craft(ctx)));
  try {
    const taped = await withReads(() => tape(ctx, defense, variables, crafted));
    return finishStep(defense, taped, (await taped.value.data())[0], step);
  } finally {
    tf.dispose(crafted);
  }
}

interface Taped {
  value: tf.Scalar;
  grads: tf.NamedTensorMap;
  /** Free training: the perturbed input's gradient (null: it got none, or not free training). */
  inputGradient: tf.Tensor | null;
  free: boolean;
}

function tape(
  ctx: DefenseContext,
  defense: Defense,
  variables: tf.Variable[],
  crafted: tf.Tensor[],
): Taped {
  // Free training: the perturbed input is differentiated in the same backward pass as the weights.
  const free = defense.inner?.freeInput() ?? null;
  const { value, grads } = tf.variableGrads(
    () => defense.objective(ctx, crafted),
    free ? [...variables, free] : variables,
  );
  let inputGradient: tf.Tensor | null = null;
  if (free) {
    inputGradient = grads[free.name] ?? null;
    delete grads[free.name];
  }
  return { value, grads, inputGradient, free: free !== null };
}

function finishStep(
  defense: Defense,
  taped: Taped,
  lossValue: number,
  step: number,
): StepGradients {
  const { value, grads, inputGradient } = taped;
  value.dispose();
  if (!Number.isFinite(lossValue)) {
    tf.dispose(grads);
    inputGradient?.dispose();
    throw new Error(`training loss is not finite (${lossValue}) at step ${step}`);
  }
  if (taped.free) {
    defense.inner?.ascend(inputGradient);
    inputGradient?.dispose();
  }
  return { loss: lossValue, grads };
}

/** Applies gradients (e.g. averaged over data-parallel replicas) and disposes them. */
export function applyGradients(
  optimizer: AdamState | tf.Optimizer,
  grads: tf.NamedTensorMap,
): void {
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(grads);
  }
}
