/**
 * Experiment (not part of the suite): each backend's training-step gradients of the small CNN against
 * the float64 reference. Run: node -r @swc-node/register bench/experiments/gradient-reference.experiment.ts
 * (SEEDS=1,2,3,5; RIR_NATIVE=0 for the pure-wasm kernels).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/ml/backend';
import {
  referenceWeights,
  relativeError,
  smallCnnGradients,
} from '../../test/support/small-cnn-f64';
import { createLoss } from '../../src/ml/losses';
import { createEmbeddingModel } from '../../src/ml/models';
import { createDefense } from '../../src/ml/defenses';
import { computeGradients } from '../../src/ml/training/step';
import { runMain } from '../lib/args';

async function main() {
  await initBackend('wasm');
  const seeds = (process.env.SEEDS ?? '1,2,3,5').split(',').map(Number);
  const backends = (process.env.BACKENDS ?? 'wasm,cpu').split(',');
  const loss = createLoss('triplet');
  const defense = createDefense('none');
  const images = tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  const labels = tf.tensor1d([0, 0, 1, 1, 2, 2], 'int32');
  for (const seed of seeds) {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [28, 28, 1],
      embeddingDim: 8,
      seed,
    });
    const names = model.model.trainableWeights.map((w) => w.originalName);
    const varNames = model.trainableVariables.map((v) => v.name);
    const t0 = Date.now();
    const ref = smallCnnGradients(
      images.dataSync() as Float32Array,
      [6, 28, 28, 1],
      [0, 0, 1, 1, 2, 2],
      referenceWeights(model),
    );
    console.log(`seed ${seed}: f64 loss ${ref.loss} (${Date.now() - t0} ms)`);
    const weights = model.model.getWeights().map((w) => w.arraySync());
    const results: Record<string, { out: Record<string, Float32Array>; value: number }> = {};
    for (const backend of backends) {
      await tf.setBackend(backend);
      const t1 = Date.now();
      const { grads, loss: value } = computeGradients(
        model,
        model.trainableVariables,
        defense,
        loss.compute,
        { images, labels },
        0,
      );
      const out = Object.fromEntries(
        Object.entries(grads).map(([n, g]) => [n, g.dataSync().slice() as Float32Array]),
      );
      tf.dispose(grads);
      model.model.setWeights(weights.map((w) => tf.tensor(w as number[])));
      results[backend] = { out, value };
      console.log(`  ${backend}: loss ${value} (${Date.now() - t1} ms)`);
    }
    for (let i = 0; i < names.length; i++) {
      const r = ref.grads[names[i]];
      const parts = backends.map(
        (b) => `${b}-f64 ${relativeError(results[b].out[varNames[i]], r).toExponential(2)}`,
      );
      if (backends.length > 1)
        parts.push(
          `${backends[0]}-${backends[1]} ${relativeError(results[backends[0]].out[varNames[i]], results[backends[1]].out[varNames[i]]).toExponential(2)}`,
        );
      console.log(`  ${names[i].padEnd(18)} ${parts.join('  ')}`);
    }
    model.dispose();
  }
}
runMain('gradient-reference', main);
