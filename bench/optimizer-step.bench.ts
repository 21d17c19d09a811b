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
import { initBackend } from '../src/ml/backend';
import type { BackboneName } from '../src/ml/models';
import { arg, numberArg, runMain } from './lib/args';
import { benchOptimizerStep } from './lib/optimizer-step';

async function main(): Promise<void> {
  await initBackend(process.env.TFJS_BACKEND);
  const backbones = arg('models', 'small-cnn,mobilenetv2-early').split(',') as BackboneName[];
  const rows = await benchOptimizerStep(backbones, numberArg('reps', 30), numberArg('warmup', 5));
  rows.forEach((row) => console.log(JSON.stringify(row)));
}

runMain('optimizer-step', main);
