/**
 * Several Adam steps on a few variables of different shapes with gradients that change every step, for
 * the fused optimizer's specs (cpu) and the webgpu kernel check. Imported by tests only.
 */
import * as tf from '@tensorflow/tfjs';
import { lcgValues } from './kernel-test-values';

export const ADAM_SHAPES: number[][] = [[3, 4], [5], [2, 2, 2, 3], [1]];

export interface AdamLike {
  applyGradients(gradients: tf.NamedTensorMap): void;
}

/** Fresh variables with the same starting values each call (new names, so two optimizers never share). */
export function adamVariables(): tf.Variable[] {
  return ADAM_SHAPES.map((shape, i) =>
    tf.variable(tf.tensor(lcgValues(tf.util.sizeFromShape(shape), 100 + i), shape)),
  );
}

/** Gradients of step `step`: a different pattern and scale per variable and per step. */
export function adamGradients(variables: tf.Variable[], step: number): tf.NamedTensorMap {
  const grads: tf.NamedTensorMap = {};
  variables.forEach((v, i) => {
    const scale = (1 + i) * (step % 2 === 0 ? 1 : 0.01);
    grads[v.name] = tf.tidy(() =>
      tf.mul(tf.tensor(lcgValues(v.size, 1000 * step + i), v.shape), scale),
    );
  });
  return grads;
}

/** Applies `steps` steps; returns the variables' final values and disposes them. */
export async function runAdam(optimizer: AdamLike, steps: number): Promise<Float32Array[]> {
  const variables = adamVariables();
  for (let step = 0; step < steps; step++) {
    const grads = adamGradients(variables, step);
    optimizer.applyGradients(grads);
    tf.dispose(grads);
  }
  const values = await Promise.all(variables.map((v) => v.data() as Promise<Float32Array>));
  tf.dispose(variables);
  return values;
}
