/**
 * Where a reference-net training step spends its time on tfjs's WebGPU backend: per-kernel GPU times
 * (timestamp queries, where Dawn grants them) of one step after warm-up, and the step's wall time with
 * and without the fused conv kernels. Bundled like webgpu.bench.ts (bench/gpu/README.md).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import {
  batchHardTripletLoss,
  pgdStep,
  ReferenceNet,
  referenceLabels,
} from '../reference-net/reference-net';
import { median } from '../lib/stats';
import { runMain } from '../lib/args';

async function main(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dawn = require('webgpu') as { create(flags: string[]): unknown; globals: object };
  Object.assign(globalThis, dawn.globals);
  (globalThis as { navigator?: unknown }).navigator = {
    gpu: dawn.create(['enable-dawn-features=allow_unsafe_apis']),
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  await initBackend('webgpu');
  for (const fused of [true, false]) {
    const net = new ReferenceNet({ size: 28, channels: 1, fused });
    const optimizer = tf.train.adam(1e-3);
    const x = tf.randomUniform([128, 28, 28, 1]) as tf.Tensor4D;
    const labels = tf.tensor1d(referenceLabels(128), 'int32');
    const steps: Record<string, () => tf.Tensor> = {
      train: () => optimizer.minimize(() => batchHardTripletLoss(net.embed(x), labels), true)!,
      grads: () => {
        const { value, grads } = tf.variableGrads(() => batchHardTripletLoss(net.embed(x), labels));
        tf.dispose(Object.values(grads));
        return value;
      },
      forward: () => tf.tidy(() => batchHardTripletLoss(net.embed(x), labels)),
      pgd: () => pgdStep(net, x, labels),
    };
    for (const [name, step] of Object.entries(steps)) {
      for (let i = 0; i < 5; i++) {
        const out = step();
        await out.data();
        out.dispose();
      }
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const start = performance.now();
        const out = step();
        await out.data();
        out.dispose();
        times.push(performance.now() - start);
      }
      console.log(JSON.stringify({ fused, step: name, medianMs: median(times) }));
    }
    if (fused) {
      const profile = await tf.profile(async () => {
        const out = steps.train();
        await out.data();
        out.dispose();
      });
      const rows: Array<[string, number]> = [];
      for (const k of profile.kernels) {
        const ms = (await k.kernelTimeMs) as unknown;
        rows.push([
          `${k.name} ${JSON.stringify(k.inputShapes)}`,
          typeof ms === 'number' ? ms : NaN,
        ]);
      }
      const total = rows.reduce((s, [, ms]) => s + (Number.isFinite(ms) ? ms : 0), 0);
      console.log(JSON.stringify({ kernels: rows.length, gpuMsTotal: total }));
      rows.sort((a, b) => b[1] - a[1]);
      for (const [k, ms] of rows.slice(0, 25)) console.log(ms.toFixed(3).padStart(8), k);
    }
    tf.dispose([x, labels]);
    net.dispose();
    optimizer.dispose();
  }
}

runMain('webgpu-profile', main);
