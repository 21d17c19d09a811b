/**
 * One Adam step on the production models' variables, tfjs's Adam against the fused flat one: kernels per
 * step and median milliseconds on the active backend. Used by optimizer-step.bench.ts and
 * gpu/production-gpu.bench.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { readValues, withReads } from '../../src/ml/backend/reads';
import { backboneChannels, createEmbeddingModel, type BackboneName } from '../../src/ml/models';
import { createAdam, type AdamState } from '../../src/ml/training/adam';
import { median, round } from './stats';

const INPUT: Record<string, [number, number]> = {
  'small-cnn': [28, 1],
  'mobilenetv2-early': [64, 3],
};

async function timeSteps(
  optimizer: AdamState,
  grads: tf.NamedTensorMap,
  warmup: number,
  reps: number,
): Promise<{ ms: number; kernels: number }> {
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const started = performance.now();
    optimizer.applyGradients(grads);
    // Wait for the device: read one weight back (a no-op wait on CPU backends).
    const first = tf.engine().registeredVariables[Object.keys(grads)[0]];
    await withReads(() => tf.tidy(() => readValues(first.flatten().slice(0, 1))));
    if (i >= warmup) times.push(performance.now() - started);
  }
  return { ms: median(times), kernels: await countKernels(() => optimizer.applyGradients(grads)) };
}

/**
 * Kernels one call runs: on webgpu the GPU programs dispatched (the fused shaders bypass tfjs's kernel
 * registry, so tf.profile would not see them), elsewhere tf.profile's kernels; reshapes are free.
 */
async function countKernels(step: () => void): Promise<number> {
  const backend = tf.backend() as unknown as { runWebGPUProgram?: (...args: unknown[]) => unknown };
  const run = backend.runWebGPUProgram;
  if (tf.getBackend() !== 'webgpu' || !run) {
    const profile = await tf.profile(step);
    return profile.kernels.filter((k) => k.name !== 'Reshape').length;
  }
  let dispatches = 0;
  backend.runWebGPUProgram = (...args: unknown[]) => {
    dispatches++;
    return run.apply(backend, args);
  };
  try {
    step();
  } finally {
    backend.runWebGPUProgram = run;
  }
  return dispatches;
}

export interface OptimizerStepRow {
  bench: 'optimizer-step';
  backend: string;
  model: string;
  variables: number;
  parameters: number;
  tfjsAdam: { ms: number; kernels: number };
  fusedAdam: { ms: number; kernels: number };
  speedup: number;
  reps: number;
}

/** One row per model on the active backend (initBackend first). */
export async function benchOptimizerStep(
  backbones: BackboneName[],
  reps: number,
  warmup: number,
): Promise<OptimizerStepRow[]> {
  const rows: OptimizerStepRow[] = [];
  for (const backbone of backbones) {
    const [size, channels] = INPUT[backbone] ?? [32, backboneChannels(backbone)];
    const model = await createEmbeddingModel({
      backbone,
      inputShape: [size, size, channels],
      seed: 0,
    });
    const variables = model.trainableVariables;
    const grads: tf.NamedTensorMap = {};
    variables.forEach(
      (v, i) =>
        (grads[v.name] = tf.tidy(() => tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', i), 1e-3))),
    );
    const tfjsAdam = createAdam({ learningRate: 1e-4, fused: false });
    const tfjs = await timeSteps(tfjsAdam, grads, warmup, reps);
    tfjsAdam.dispose();
    const fusedAdam = createAdam({ learningRate: 1e-4, fused: true });
    const fused = await timeSteps(fusedAdam, grads, warmup, reps);
    fusedAdam.dispose();
    rows.push({
      bench: 'optimizer-step',
      backend: tf.getBackend(),
      model: backbone,
      variables: variables.length,
      parameters: variables.reduce((n, v) => n + v.size, 0),
      tfjsAdam: { ms: round(tfjs.ms, 3), kernels: tfjs.kernels },
      fusedAdam: { ms: round(fused.ms, 3), kernels: fused.kernels },
      speedup: round(tfjs.ms / fused.ms, 2),
      reps,
    });
    tf.dispose(Object.values(grads));
    model.dispose();
  }
  return rows;
}
