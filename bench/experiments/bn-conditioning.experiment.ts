/**
 * Experiment (not part of the suite): why the wasm and cpu training-step gradients of the small CNN differ
 * below the head batch norm for some seeds; this one tests the batch-norm conditioning hypothesis at
 * head_bn (|dx| against |gamma*invstd*dy|, each backend's dx against float64 from the same dy). Run:
 *   node -r @swc-node/register bench/experiments/bn-conditioning.experiment.ts
 * (SEEDS=1,2,3,5; RIR_NATIVE=0 for the pure-wasm kernels instead of the native GEMM).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/ml/backend';
import { relativeError } from '../../test/support/small-cnn-f64';
import { createLoss } from '../../src/ml/losses';
import { createEmbeddingModel, l2Normalize } from '../../src/ml/models';
import { runMain } from '../lib/args';

const SEEDS = (process.env.SEEDS ?? '1,2,3,5').split(',').map(Number);

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

async function main() {
  {
    await initBackend('wasm');
    const loss = createLoss('triplet');
    const labels = tf.tensor1d([0, 0, 1, 1, 2, 2], 'int32');
    const imagesData = tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 11).dataSync().slice();
    for (const seed of SEEDS) {
      const model = await createEmbeddingModel({
        backbone: 'small-cnn',
        inputShape: [28, 28, 1],
        embeddingDim: 8,
        seed,
      });
      const layers = model.model.layers.slice(1);
      const headIndex = layers.findIndex((l) => l.name === 'head_bn');
      const weights = model.model.getWeights().map((w) => w.arraySync());
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        const result = tf.tidy(() => {
          const images = tf.tensor4d(imagesData, [6, 28, 28, 1]);
          let x: tf.Tensor = images;
          for (const layer of layers.slice(0, headIndex))
            x = layer.apply(x, { training: true }) as tf.Tensor;
          const flat = x as tf.Tensor2D;
          const head = layers[headIndex];
          const top = (z: tf.Tensor) =>
            loss.compute(
              l2Normalize(layers[headIndex + 1].apply(z, { training: true }) as tf.Tensor2D),
              labels,
            );
          const z = head.apply(flat, { training: true }) as tf.Tensor2D;
          const dy = tf.grad(top)(z);
          const dx = tf.grad((f: tf.Tensor) => top(head.apply(f, { training: true }) as tf.Tensor))(
            flat,
          );
          const value = top(z);
          return {
            flat: flat.dataSync().slice(),
            dy: dy.dataSync().slice(),
            dx: dx.dataSync().slice(),
            loss: value.dataSync()[0],
          };
        });
        model.model.setWeights(weights.map((w) => tf.tensor(w as number[])));
        return result;
      };
      const w = await run('wasm');
      const c = await run('cpu');
      const gamma = (
        model.model.getLayer('head_bn').getWeights()[0].dataSync() as Float32Array
      ).slice();
      const [n, f] = [6, gamma.length];
      // float64 dx from a backend's flat input and dy.
      const dx64 = (flat: ArrayLike<number>, dy: ArrayLike<number>) => {
        const out = new Float64Array(n * f);
        for (let j = 0; j < f; j++) {
          let mean = 0;
          for (let i = 0; i < n; i++) mean += flat[i * f + j];
          mean /= n;
          let v = 0;
          for (let i = 0; i < n; i++) v += (flat[i * f + j] - mean) ** 2;
          v /= n;
          const inv = 1 / Math.sqrt(v + 1e-3);
          let sdy = 0;
          let sdyx = 0;
          for (let i = 0; i < n; i++) {
            const xh = (flat[i * f + j] - mean) * inv;
            sdy += dy[i * f + j];
            sdyx += dy[i * f + j] * xh;
          }
          for (let i = 0; i < n; i++) {
            const xh = (flat[i * f + j] - mean) * inv;
            out[i * f + j] = ((gamma[j] * inv) / n) * (n * dy[i * f + j] - sdy - xh * sdyx);
          }
        }
        return out;
      };
      const refC = dx64(c.flat, c.dy);
      const refW = dx64(w.flat, w.dy);
      const refMixed = dx64(c.flat, w.dy);
      // |dy| scaled like dx (gamma*invstd), to make |dx|/|dy| a pure projection ratio.
      const scaledDy = new Float64Array(n * f);
      for (let j = 0; j < f; j++) {
        let mean = 0;
        for (let i = 0; i < n; i++) mean += c.flat[i * f + j];
        mean /= n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (c.flat[i * f + j] - mean) ** 2;
        const inv = 1 / Math.sqrt(v / n + 1e-3);
        for (let i = 0; i < n; i++) scaledDy[i * f + j] = gamma[j] * inv * c.dy[i * f + j];
      }
      console.log(
        [
          `seed ${seed} backend wasm native=${process.env.RIR_NATIVE !== '0'}`,
          `loss wasm ${w.loss} cpu ${c.loss}`,
          `flat relativeError(w,c) ${relativeError(w.flat, c.flat).toExponential(2)}`,
          `dy relativeError(w,c) ${relativeError(w.dy, c.dy).toExponential(2)}  |dy| ${norm(c.dy).toExponential(3)}`,
          `|dx|/|gamma*invstd*dy| ${(norm(refC) / norm(scaledDy)).toExponential(3)}`,
          `dx relativeError(w,c) ${relativeError(w.dx, c.dx).toExponential(2)}`,
          `dx relativeError(cpu, f64 from cpu) ${relativeError(c.dx, refC).toExponential(2)}  relativeError(wasm, f64 from wasm) ${relativeError(w.dx, refW).toExponential(2)}`,
          `f64(cpu dy) vs f64(wasm dy), same flat: ${relativeError(refMixed, refC).toExponential(2)}; f64 from wasm vs from cpu: ${relativeError(refW, refC).toExponential(2)}`,
        ].join('\n  '),
      );
      model.dispose();
    }
    labels.dispose();
  }
}

runMain('bn-conditioning', main);
