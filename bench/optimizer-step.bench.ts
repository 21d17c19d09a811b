/**
 * One optimizer step on the production models' variables: tfjs's Adam (about fourteen kernels per
 * variable) against the flat FusedAdam (two concatenations, two update kernels, one slice per variable),
 * with the kernels each runs (tf.profile: on a GPU backend one dispatch each, reshapes aside) and the
 * median milliseconds on the backend chosen (TFJS_BACKEND, or the fastest that starts). The trainer
 * uses the fused one on webgpu only (createAdam): these figures are why. One JSON line per model.
 *
 *   npx ts-node bench/optimizer-step.bench.ts [--models small-cnn,mobilenetv2-early] [--reps 30] [--warmup 5]
 *   node -r @swc-node/register bench/optimizer-step.bench.ts ...
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backend';
import { readValues, withReads } from '../src/ml/backend/reads';
import { backboneChannels, createEmbeddingModel, type BackboneName } from '../src/ml/models';
import { createAdam, type AdamState } from '../src/ml/training/adam';
import { arg, numberArg, runMain } from './lib/args';
import { median, round } from './lib/stats';

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
    await withReads(() => readValues(first.flatten().slice(0, 1)));
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

async function main(): Promise<void> {
  const backend = await initBackend(process.env.TFJS_BACKEND);
  const reps = numberArg('reps', 30);
  const warmup = numberArg('warmup', 5);
  for (const backbone of arg('models', 'small-cnn,mobilenetv2-early').split(
    ',',
  ) as BackboneName[]) {
    const [size, channels] = INPUT[backbone] ?? [32, backboneChannels(backbone)];
    const model = await createEmbeddingModel({
      backbone,
      inputShape: [size, size, channels],
      seed: 0,
    });
    const variables = model.trainableVariables;
    const grads: tf.NamedTensorMap = {};
    variables.forEach(
      (v, i) => (grads[v.name] = tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', i), 1e-3)),
    );
    const tfjsAdam = createAdam({ learningRate: 1e-4, fused: false });
    const tfjs = await timeSteps(tfjsAdam, grads, warmup, reps);
    tfjsAdam.dispose();
    const fusedAdam = createAdam({ learningRate: 1e-4, fused: true });
    const fused = await timeSteps(fusedAdam, grads, warmup, reps);
    fusedAdam.dispose();
    console.log(
      JSON.stringify({
        bench: 'optimizer-step',
        backend: backend.name,
        model: backbone,
        variables: variables.length,
        parameters: variables.reduce((n, v) => n + v.size, 0),
        tfjsAdam: { ms: round(tfjs.ms, 3), kernels: tfjs.kernels },
        fusedAdam: { ms: round(fused.ms, 3), kernels: fused.kernels },
        speedup: round(tfjs.ms / fused.ms, 2),
        reps,
      }),
    );
    tf.dispose(Object.values(grads));
    model.dispose();
  }
}

runMain('optimizer-step', main);
