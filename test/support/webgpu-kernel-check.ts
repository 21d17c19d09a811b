/**
 * Run in a child process by src/ml/backend/backend-webgpu.spec.ts (Jest's copy of process.env never
 * reaches the Vulkan loader): starts the webgpu backend the way TFJS_BACKEND=webgpu does, computes
 * every gradient kernel the project registers or relies on, on webgpu and on the cpu backend from the
 * same inputs, and prints one JSON object: { adapter, kernelsPatched, errors: { case: relative error },
 * reads: {...} }.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { conv2dBiasRelu } from '../../src/ml/backend/fused-gradients';
import { onHostBackend, readValues, withReads } from '../../src/ml/backend/reads';
import { createEmbeddingModel } from '../../src/ml/models';
import { embedAllAsync } from '../../src/ml/metrics';
import { embedBatch, embedBatchAsync } from '../../src/modules/embedding/embed-batch';
import { FusedAdam } from '../../src/ml/training/adam';
import { runAdam } from './adam-steps';
import { lcgValues, relativeError } from './kernel-test-values';

type Case = () => tf.Tensor[];

const t4 = (shape: [number, number, number, number], seed: number) =>
  tf.tensor4d(
    lcgValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

/** Gradients of a scalar of conv2d w.r.t. x and the filter (Conv2DBackpropInput/Filter). */
function convGrads(
  xShape: [number, number, number, number],
  fShape: [number, number, number, number],
  stride: number,
  pad: 'same' | 'valid',
): Case {
  return () => {
    const x = t4(xShape, 1);
    const f = t4(fShape, 2);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad))),
    );
    return g([x, f]);
  };
}

const CASES: Record<string, Case> = {
  // Few input channels: the im2col + matrix product path of the composed filter gradient.
  'conv 3x3 s1 same, 3 -> 8 channels (filter: im2col path)': convGrads(
    [2, 9, 9, 3],
    [3, 3, 3, 8],
    1,
    'same',
  ),
  // Many input channels: the transposed-conv path; stride 2 exercises the dilated dy.
  'conv 3x3 s2 valid, 8 -> 4 channels (filter: conv path)': convGrads(
    [2, 9, 9, 8],
    [3, 3, 8, 4],
    2,
    'valid',
  ),
  'conv 1x1 s1, 6 -> 5 channels': convGrads([2, 5, 5, 6], [1, 1, 6, 5], 1, 'same'),
  // The FusedConv2D gradient (registered for every backend) and the one-pass ReLU gradient.
  'fused conv + bias + relu (x, filter, bias)': () => {
    const x = t4([2, 8, 8, 4], 3);
    const f = t4([3, 3, 4, 6], 4);
    const bias = tf.tensor1d(lcgValues(6, 5));
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.square(conv2dBiasRelu(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor1D))),
    );
    return g([x, f, bias]);
  },
  relu: () => [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), a)))(t4([2, 4, 4, 3], 6))],
  'conv + relu + max-pool': () => {
    const x = t4([2, 8, 8, 3], 7);
    const f = t4([3, 3, 3, 4], 8);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.maxPool(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')), 2, 2, 'same'),
      ),
    );
    return g([x, f]);
  },
  'depthwise 3x3 s1 same, multiplier 2': () => {
    const x = t4([2, 7, 7, 3], 9);
    const f = t4([3, 3, 3, 2], 10);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))),
    );
    return g([x, f]);
  },
  'sum over leading axes and tile (the bias and batch-norm gradients)': () => {
    const x = t4([4, 3, 3, 5], 11);
    const scale = tf.tensor1d(lcgValues(5, 12));
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.mul(a, tf.tile(tf.reshape(b, [1, 1, 1, 5]), [4, 3, 3, 1])))),
    );
    return [...g([x, scale]), tf.sum(x, [0, 1, 2])];
  },
};

async function values(run: Case): Promise<Float32Array[]> {
  const out = tf.tidy(run);
  const read = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return read;
}

async function main(): Promise<void> {
  const info = await initBackend('webgpu');
  const gpu = (globalThis as { navigator?: { gpu?: GPULike } }).navigator?.gpu;
  const adapter = await gpu?.requestAdapter();
  const errors: Record<string, number> = {};
  for (const [name, run] of Object.entries(CASES)) {
    await tf.setBackend('webgpu');
    const onGpu = await values(run);
    await tf.setBackend('cpu');
    const onCpu = await values(run);
    errors[name] = Math.max(...onGpu.map((v, i) => relativeError(v, onCpu[i])));
  }
  // The fused optimizer's two shaders against tfjs's own Adam on cpu, from the same start.
  await tf.setBackend('webgpu');
  const fused = new FusedAdam({ learningRate: 0.05, epsilon: 1e-7 });
  const adamOnGpu = await runAdam(fused, 6);
  fused.dispose();
  await tf.setBackend('cpu');
  const reference = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
  const adamOnCpu = await runAdam(
    {
      applyGradients: (g) =>
        reference.applyGradients(g as Parameters<typeof reference.applyGradients>[0]),
    },
    6,
  );
  reference.dispose();
  errors['fused Adam, 6 steps (webgpu shaders vs tf.train.adam on cpu)'] = Math.max(
    ...adamOnGpu.map((v, i) => relativeError(v, adamOnCpu[i])),
  );
  await tf.setBackend('webgpu');

  // A synchronous read inside withReads: the unit reruns with the values it stopped for.
  let runs = 0;
  const mined = await withReads(() =>
    tf.tidy(() => {
      runs++;
      const distances = tf.square(tf.sub(tf.range(0, 4), 1.5));
      const values = readValues(distances);
      return Array.from(values);
    }),
  );
  // A unit's side effects on variables (batch norm's moving statistics) happen once, however many runs.
  const counter = tf.variable(tf.scalar(0));
  await withReads(() =>
    tf.tidy(() => {
      counter.assign(tf.add(counter, 1));
      return readValues(tf.square(tf.range(0, 2)));
    }),
  );
  const assignedOnce = (await counter.data())[0];
  let outside = '';
  try {
    readValues(tf.square(tf.range(0, 3)));
  } catch (error) {
    outside = (error as Error).message;
  }
  const hostSum = onHostBackend(() => ({
    backend: tf.getBackend(),
    value: tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0],
  }));
  const backendAfterHost = tf.getBackend();

  // Inference embeddings, as search by upload and the evaluations compute them.
  const model = await createEmbeddingModel({
    backbone: 'small-cnn',
    inputShape: [12, 12, 1],
    embeddingDim: 8,
    seed: 2,
  });
  const set = {
    images: lcgValues(6 * 144, 12).map((v) => v + 0.5),
    labels: Int32Array.from([0, 0, 1, 1, 2, 2]),
    shape: [12, 12, 1] as [number, number, number],
  };
  const gpuEmbeddings = await embedAllAsync(model, set, 4);
  const gpuSearchBatch = await embedBatchAsync(model, set.images, 6);
  // Seeded initialisers draw the same weights on every backend.
  await tf.setBackend('cpu');
  const cpuModel = await createEmbeddingModel({
    backbone: 'small-cnn',
    inputShape: [12, 12, 1],
    embeddingDim: 8,
    seed: 2,
  });
  errors['small-cnn inference embeddings (embedAllAsync)'] = relativeError(
    gpuEmbeddings,
    await embedAllAsync(cpuModel, set, 4),
  );
  errors['search-by-upload batch (embedBatchAsync)'] = relativeError(
    gpuSearchBatch,
    embedBatch(cpuModel, set.images, 6),
  );
  const result = {
    adapter: adapter?.info?.description || adapter?.info?.architecture || null,
    backend: info.name,
    kernelsPatched: info.kernelsPatched,
    errors,
    reads: { mined, runs, assignedOnce, outside, hostSum, backendAfterHost },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

interface GPULike {
  requestAdapter(): Promise<{ info?: Record<string, string> } | null>;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
