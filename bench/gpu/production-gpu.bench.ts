/**
 * The production small CNN on tfjs's WebGPU backend through the production code: the trainer's natural
 * step, its panum step with 7 PGD steps, the embedding worker's inference (bench/reference-net/production.ts,
 * one thread), and one Adam step, tfjs's against the fused flat one (bench/optimizer-step.bench.ts).
 * Bundled like webgpu.bench.ts for a GPU machine (bench/gpu/README.md; bench/gpu/check.sh runs it).
 * Prints one JSON line per row.
 *
 *   node production-gpu.js [--reps 20] [--warmup 5] [--batch B]
 */
import { initBackend, provideWebGpu } from '../../src/ml/backend';
import { benchOptimizerStep } from '../lib/optimizer-step';
import { benchProductionModel } from '../reference-net/production';
import { numberArg, runMain } from '../lib/args';

async function main(): Promise<void> {
  const failure = provideWebGpu();
  if (failure) throw failure;
  // tfjs-backend-webgpu registers itself on import only where navigator.gpu exists: after the line above.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  await initBackend('webgpu');
  const reps = numberArg('reps', 20);
  const warmup = numberArg('warmup', 5);
  // --batch B: a quick check of the plumbing (on an emulated GPU), B images per step in classes of 4.
  const batch = numberArg('batch', 0);
  const rows = await benchProductionModel({
    model: 'small-cnn',
    shape: batch > 0 ? { size: 28, batch, perClass: 4, inferBatch: batch } : undefined,
    steps: ['train', 'panum7', 'infer'],
    workers: 1,
    reps,
    warmup,
    backend: 'webgpu',
  });
  rows.forEach((row) => console.log(JSON.stringify(row)));
  for (const row of await benchOptimizerStep(['small-cnn'], reps, warmup))
    console.log(JSON.stringify(row));
}

runMain('production-gpu', main);
