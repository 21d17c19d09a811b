/**
 * Experiment: pool windows where a backend's float32 forward pass picks a different maximum than float64,
 * with the values on each side. Run: node -r @swc-node/register bench/experiments/pool-ties.experiment.ts
 * (SEEDS=2,5 by default; RIR_NATIVE=0 for the pure-wasm kernels).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/ml/backend';
import {
  blockOutputs,
  referenceWeights,
  smallCnnGradients,
} from '../../test/support/small-cnn-f64';
import { createEmbeddingModel } from '../../src/ml/models';
import { runMain } from '../lib/args';

async function main() {
  await initBackend('wasm');
  const seeds = (process.env.SEEDS ?? '2,5').split(',').map(Number);
  const images = tf.randomUniform([6, 28, 28, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
  for (const seed of seeds) {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [28, 28, 1],
      embeddingDim: 8,
      seed,
    });
    const ref = smallCnnGradients(
      images.dataSync() as Float32Array,
      [6, 28, 28, 1],
      [0, 0, 1, 1, 2, 2],
      referenceWeights(model),
    );
    const pres: Record<string, Float32Array[]> = {};
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      pres[backend] = blockOutputs(model, images);
    }
    const shapes = [
      [28, 28, 32],
      [14, 14, 64],
      [7, 7, 128],
    ];
    for (let blk = 0; blk < 3; blk++) {
      const [h, w, c] = shapes[blk];
      const choose = (pre: ArrayLike<number>, b: number, i: number, j: number, ch: number) => {
        let best = -Infinity;
        let at = -1;
        const vals: number[] = [];
        for (let di = 0; di < 2; di++)
          for (let dj = 0; dj < 2; dj++) {
            const r = 2 * i + di;
            const s = 2 * j + dj;
            if (r >= h || s >= w) continue;
            const idx = ((b * h + r) * w + s) * c + ch;
            const v = Math.max(0, pre[idx]);
            vals.push(pre[idx]);
            if (v > best) {
              best = v;
              at = idx;
            }
          }
        return { at, vals };
      };
      let minGap = Infinity;
      for (let b = 0; b < 6; b++)
        for (let i = 0; i < Math.ceil(h / 2); i++)
          for (let j = 0; j < Math.ceil(w / 2); j++)
            for (let ch = 0; ch < c; ch++) {
              const r = choose(ref.preActivations[blk], b, i, j, ch);
              const sorted = r.vals.map((v) => Math.max(0, v)).sort((p, q) => q - p);
              if (sorted[0] > 0 && sorted.length > 1)
                minGap = Math.min(minGap, sorted[0] - sorted[1]);
              const cw = choose(pres.wasm[blk], b, i, j, ch);
              const cc = choose(pres.cpu[blk], b, i, j, ch);
              if (cw.at !== r.at || cc.at !== r.at)
                console.log(
                  `seed ${seed} pool${blk + 1} [${b},${i},${j},${ch}] f64 picks ${r.at} wasm ${cw.at} cpu ${cc.at}\n   f64 ${r.vals.map((v) => v.toPrecision(10)).join(' ')}\n   wasm ${cw.vals.map((v) => v.toPrecision(10)).join(' ')}\n   cpu ${cc.vals.map((v) => v.toPrecision(10)).join(' ')}`,
                );
            }
      let reluFlips = 0;
      for (let k = 0; k < ref.preActivations[blk].length; k++) {
        const f = ref.preActivations[blk][k] > 0;
        if (pres.wasm[blk][k] > 0 !== f || pres.cpu[blk][k] > 0 !== f) reluFlips++;
      }
      console.log(
        `seed ${seed} block ${blk + 1}: smallest positive top-2 gap in f64 ${minGap.toExponential(2)}, relu sign flips ${reluFlips}`,
      );
    }
    model.dispose();
  }
}
runMain('pool-ties', main);
