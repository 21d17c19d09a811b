import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../backend';
import {
  blockOutputs,
  referenceWeights,
  relativeError,
  smallCnnGradients,
} from '../../../test/support/small-cnn-f64';
import { createLoss } from '../losses';
import { createEmbeddingModel } from '../models';
import { createDefense } from '../defenses';
import { computeGradients } from './step';

/**
 * The wasm training step (with its added gradient kernels, native GEMM or not) against a float64 reference
 * of the same step (test/support/small-cnn-f64.ts): every gradient within 1e-4 relative error (norm of the
 * difference over norm) of the float64 gradient on the branch wasm took.
 *
 * Finding (formerly "seeds 2 and 5 disagree below head_bn, not yet explained"): no kernel bug and no
 * batch-norm conditioning, but a max-pool near-tie. The step's gradient is piecewise smooth; with seed 2
 * (seed 5) one pool3 window holds two batch-norm outputs 2.6e-6 (1.6e-6) apart in float64, e.g.
 * 0.54585195 vs 0.54585359, while float32 forward passes are off by ~2e-6 there. One backend orders that
 * window the other way (seed 2: cpu; seed 5: wasm, with or without the native GEMM), its gradient goes to
 * the neighbouring pixel, and the conv1-conv3 kernels and conv1/conv2 batch-norm weights move by 3e-4
 * (seed 2) to 7e-3 (seed 5), while conv3_bn's gamma/beta (the two values are equal) and all layers above
 * stay within 3e-5: the old wasm-vs-cpu gap. The backend that kept float64's order is within 3e-5 of float64
 * on every weight for seeds 1, 2, 3, 5 (bench/experiments/gradient-reference.experiment.ts, pool-ties.*).
 * At head_bn |dx| is 0.94-0.97 of |gamma*invstd*dy| and both backends' dx are within 1e-7 of a float64 dx
 * from the same dy (bn-conditioning.experiment.ts). Scaling the input by 1 + 1e-6 did not show it: conv1's
 * batch norm divides the scale out. Hence the branch-matched reference, and every window wasm ordered
 * differently from float64 must be a near-tie.
 */
const SEEDS = [1, 2, 5];
const TOLERANCE = 1e-4;
/** Largest float64 gap (batch-norm outputs, unit scale) a float32 forward pass may order the other way. */
const NEAR_TIE = 2e-5;

describe('training-step gradients on wasm against float64', () => {
  it('match the float64 gradient of the branch taken within 1e-4 relative error', async () => {
    await initBackend('wasm');
    await tf.setBackend('wasm');
    const loss = createLoss('triplet');
    const defense = createDefense('none');
    const images = tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
    const labelValues = [0, 0, 1, 1, 2, 2];
    const labels = tf.tensor1d(labelValues, 'int32');
    const pixels = images.dataSync() as Float32Array;
    for (const seed of SEEDS) {
      const model = await createEmbeddingModel({
        backbone: 'small-cnn',
        inputShape: [28, 28, 1],
        embeddingDim: 8,
        seed,
      });
      const weights = referenceWeights(model);
      const branch = blockOutputs(model, images);
      const { grads, loss: value } = computeGradients(
        model,
        model.trainableVariables,
        defense,
        loss.compute,
        { images, labels },
        0,
      );
      const own = smallCnnGradients(pixels, [6, 28, 28, 1], labelValues, weights);
      const reference = smallCnnGradients(pixels, [6, 28, 28, 1], labelValues, weights, branch);
      expect(Math.abs(value - reference.loss)).toBeLessThan(TOLERANCE * reference.loss);
      // Every max-pool window wasm ordered differently from float64 is a near-tie in float64.
      const wideFlips: { block: number; output: number; gap: number }[] = [];
      own.poolChoices.forEach((choices, block) => {
        const pre = own.preActivations[block];
        choices.forEach((at, output) => {
          const taken = reference.poolChoices[block][output];
          const gap = Math.abs(pre[at] - pre[taken]);
          if (taken !== at && !(gap < NEAR_TIE)) wideFlips.push({ block, output, gap });
        });
      });
      expect(wideFlips).toEqual([]);
      const names = model.model.trainableWeights.map((w) => w.originalName);
      const errors = model.trainableVariables.map((variable, i) => ({
        seed,
        name: names[i],
        relative: relativeError(grads[variable.name].dataSync(), reference.grads[names[i]]),
      }));
      expect(errors.length).toBe(13);
      expect(errors.filter((e) => !(e.relative < TOLERANCE))).toEqual([]);
      tf.dispose(grads);
      model.dispose();
    }
    tf.dispose([images, labels]);
  });
});
