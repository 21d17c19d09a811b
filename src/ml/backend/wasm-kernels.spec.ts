import * as tf from '@tensorflow/tfjs';
import { lcgValues, relativeError } from '../../../test/support/kernel-test-values';
import { initBackend } from './index';
import { loadNativeGemm } from './native-kernels';
import { registerWasmGradientKernels } from './wasm-kernels';

interface Case {
  name: string;
  x: [number, number, number, number];
  w: number[];
  /** The layer under test; its output is contracted with fixed random weights to give a scalar loss. */
  layer: (x: tf.Tensor4D, w: tf.Tensor) => tf.Tensor;
}

const cases: Case[] = [];
for (const stride of [1, 2] as const) {
  for (const pad of ['same', 'valid'] as const) {
    cases.push({
      name: `conv2d 3x3 stride ${stride} ${pad}`,
      x: [2, 9, 8, 5],
      w: [3, 3, 5, 6],
      layer: (x, w) => tf.conv2d(x, w as tf.Tensor4D, stride, pad),
    });
    cases.push({
      name: `conv2d 3x3 stride ${stride} ${pad}, 1 input channel`,
      x: [3, 8, 8, 1],
      w: [3, 3, 1, 4],
      layer: (x, w) => tf.conv2d(x, w as tf.Tensor4D, stride, pad),
    });
    cases.push({
      name: `depthwise 3x3 stride ${stride} ${pad}`,
      x: [2, 9, 8, 4],
      w: [3, 3, 4, 1],
      layer: (x, w) => tf.depthwiseConv2d(x, w as tf.Tensor4D, stride, pad),
    });
    cases.push({
      name: `depthwise 3x3 multiplier 2 stride ${stride} ${pad}`,
      x: [2, 8, 7, 3],
      w: [3, 3, 3, 2],
      layer: (x, w) => tf.depthwiseConv2d(x, w as tf.Tensor4D, stride, pad),
    });
  }
}
cases.push({
  name: 'conv2d 1x1 stride 2',
  x: [2, 7, 7, 6],
  w: [1, 1, 6, 5],
  layer: (x, w) => tf.conv2d(x, w as tf.Tensor4D, 2, 'same'),
});
cases.push({
  name: 'dense',
  x: [4, 3, 3, 2],
  w: [18, 7],
  layer: (x, w) => tf.matMul(x.reshape([4, 18]), w as tf.Tensor2D),
});

cases.push({
  name: 'batched matmul, transposed operands',
  x: [4, 3, 3, 2],
  w: [4, 5, 9],
  layer: (x, w) => tf.matMul(x.reshape([4, 9, 2]), w as tf.Tensor3D, true, true),
});

/** Single-input ops the heap and native kernels replace (MaxPoolGrad, Sum, Mean, Equal, Tile); quantised inputs force ties. */
const inputOnlyCases: Array<{
  name: string;
  x: [number, number, number, number];
  quantised?: boolean;
  op: (x: tf.Tensor4D) => tf.Tensor;
}> = [
  { name: 'max-pool 2x2 stride 2', x: [2, 8, 6, 3], op: (x) => tf.maxPool(x, 2, 2, 'valid') },
  {
    name: 'max-pool 3x3 stride 2 same (overlapping windows)',
    x: [2, 7, 9, 3],
    op: (x) => tf.maxPool(x, 3, 2, 'same'),
  },
  {
    name: 'max-pool 2x2 stride 1 with ties',
    x: [1, 6, 6, 2],
    quantised: true,
    op: (x) => tf.maxPool(x, 2, 1, 'valid'),
  },
  {
    name: 'batched matmul against one broadcast matrix',
    x: [4, 3, 3, 2],
    op: (x) => tf.matMul(x.reshape([4, 9, 2]), tf.tensor2d(lcgValues(10, 6), [2, 5])),
  },
  {
    name: 'max-pool 2x2 stride 2, odd size, 6 channels (vector body and tail), ties',
    x: [2, 7, 9, 6],
    quantised: true,
    op: (x) => tf.maxPool(x, 2, 2, 'valid'),
  },
  {
    name: 'max-pool 2x2 stride 2, 8 channels, ties',
    x: [3, 6, 4, 8],
    quantised: true,
    op: (x) => tf.maxPool(x, 2, 2, 'valid'),
  },
  {
    name: 'mean over the spatial axes (global average pool)',
    x: [3, 4, 5, 6],
    op: (x) => tf.mean(tf.square(x), [1, 2]),
  },
  {
    name: 'mean over the spatial axes, keepDims, and over leading axes',
    x: [3, 4, 5, 6],
    op: (x) =>
      tf.add(tf.mean(x, [2, 1], true), tf.mean(tf.square(x), [0, 1]).reshape([1, 1, 5, 6])),
  },
  {
    name: 'equal with broadcasting (batch-hard mining: row maxima, label masks)',
    x: [2, 4, 6, 1],
    quantised: true,
    op: (x) => {
      const rows = x.reshape([8, 6]);
      // Equal has no gradient: the masks come from constants, as the loss's do.
      const quantised = tf.round(tf.mul(tf.tensor2d(lcgValues(48, 11), [8, 6]), 4));
      const isRowMax = tf.cast(tf.equal(quantised, tf.max(quantised, 1, true)), 'float32');
      const labels = tf.floorDiv(tf.range(0, 8, 1, 'int32'), tf.scalar(2, 'int32'));
      const sameLabel = tf.cast(
        tf.equal(labels.reshape([8, 1]), labels.reshape([1, 8])),
        'float32',
      );
      return tf.add(tf.sum(tf.mul(rows, isRowMax), 1), tf.sum(sameLabel, 1));
    },
  },
  { name: 'sum over leading axes', x: [3, 4, 5, 6], op: (x) => tf.sum(tf.square(x), [0, 1, 2]) },
  {
    name: 'sum over leading axes, keepDims',
    x: [3, 4, 5, 6],
    op: (x) => tf.sum(tf.square(x), [1, 0], true),
  },
  { name: 'tile every axis', x: [2, 3, 2, 3], op: (x) => tf.tile(x, [2, 1, 3, 2]) },
  {
    name: 'tile per-channel factors to an activation (batch-norm gradient)',
    x: [1, 1, 1, 4],
    op: (x) => tf.tile(x, [3, 5, 2, 1]),
  },
  {
    name: 'tile int32 and rank 1',
    x: [1, 2, 2, 3],
    op: (x) =>
      tf.tile(tf.reshape(x, [12]), [3]).add(tf.tile(tf.range(0, 12, 1, 'int32'), [3]).toFloat()),
  },
  {
    name: 'sum over trailing axes (stock kernel)',
    x: [3, 4, 5, 6],
    op: (x) => tf.sum(tf.square(x), [2, 3]),
  },
];

function inputOnlyValues(index: number): { y: Float32Array; dx: Float32Array } {
  const c = inputOnlyCases[index];
  return tf.tidy(() => {
    const raw = lcgValues(tf.util.sizeFromShape(c.x), 4);
    const x = tf.tensor4d(c.quantised ? raw.map((v) => Math.round(v * 2) / 2) : raw, c.x);
    const y = c.op(x);
    const r = tf.tensor(lcgValues(y.size, 5), y.shape);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(c.op(xx as tf.Tensor4D), r)))(x);
    return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

/** Gradients of sum(layer(x, w) * r) w.r.t. x and w, read back as plain arrays. */
function gradients(c: Case): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(lcgValues(tf.util.sizeFromShape(c.x), 1), c.x);
    const w = tf.tensor(lcgValues(tf.util.sizeFromShape(c.w), 2), c.w);
    const loss = (xx: tf.Tensor, ww: tf.Tensor) => {
      const y = c.layer(xx as tf.Tensor4D, ww);
      return tf.sum(tf.mul(y, tf.tensor(lcgValues(y.size, 3), y.shape)));
    };
    const [dx, dw] = tf.grads(loss)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** A MobileNetV2-style block plus a plain conv stack: batch norm, relu6, depthwise, pooling, residual. */
function smallNetLoss(params: tf.Tensor[], x: tf.Tensor4D): tf.Scalar {
  const [c1, dw, pw, fc, gamma, beta] = params as [
    tf.Tensor4D,
    tf.Tensor4D,
    tf.Tensor4D,
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor1D,
  ];
  const norm = (t: tf.Tensor4D) => {
    const { mean, variance } = tf.moments(t, [0, 1, 2]);
    return tf.batchNorm(t, mean, variance, beta, gamma, 1e-3) as tf.Tensor4D;
  };
  let h: tf.Tensor4D = tf.relu6(norm(tf.conv2d(x, c1, 1, 'same')));
  h = tf.maxPool(h, 2, 2, 'same');
  const expanded = tf.relu6(norm(tf.depthwiseConv2d(h, dw, 1, 'same')));
  h = tf.add(h, tf.conv2d(expanded, pw, 1, 'same'));
  h = tf.relu(tf.depthwiseConv2d(h, dw, 2, 'same'));
  const pooled = tf.avgPool(h, 2, 1, 'valid').mean([1, 2]) as tf.Tensor2D;
  const embedding = tf.matMul(pooled, fc);
  return tf.sum(
    tf.mul(embedding, tf.tensor(lcgValues(embedding.size, 9), embedding.shape)),
  ) as tf.Scalar;
}

function smallNetGradients(): Float32Array[] {
  return tf.tidy(() => {
    const shapes = [[3, 3, 2, 8], [3, 3, 8, 1], [1, 1, 8, 8], [8, 5], [8], [8]];
    const params = shapes.map((shape, i) =>
      tf.tensor(lcgValues(tf.util.sizeFromShape(shape), 20 + i), shape),
    );
    const x = tf.tensor4d(lcgValues(4 * 10 * 10 * 2, 7), [4, 10, 10, 2]);
    const grads = tf.grads((...ps: tf.Tensor[]) => smallNetLoss(ps, x))([...params, x]);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

function describeKernels(native: boolean): void {
  describe(`wasm gradient kernels${native ? ' with the native GEMM' : ''}`, () => {
    let onWasm: { dx: Float32Array; dw: Float32Array }[];
    let smallNetOnWasm: Float32Array[];
    let inputOnlyOnWasm: { y: Float32Array; dx: Float32Array }[];

    beforeAll(async () => {
      await initBackend('wasm');
      await tf.setBackend('wasm');
      const patched = registerWasmGradientKernels({ native });
      if (native)
        expect(patched).toEqual(
          expect.arrayContaining(['Conv2D', 'Conv2DBackpropInput', 'BatchMatMul']),
        );
      expect(patched).toEqual(
        expect.arrayContaining([
          'Conv2DBackpropFilter',
          'DepthwiseConv2dNativeBackpropFilter',
          'DepthwiseConv2dNativeBackpropInput',
        ]),
      );
      onWasm = cases.map(gradients);
      smallNetOnWasm = smallNetGradients();
      inputOnlyOnWasm = inputOnlyCases.map((_, i) => inputOnlyValues(i));
      await tf.setBackend('cpu');
    });

    afterAll(async () => {
      await tf.setBackend('wasm');
    });

    it.each(cases.map((c, i) => [c.name, i] as const))(
      '%s: gradients match the cpu backend',
      (_name, index) => {
        const reference = gradients(cases[index]);
        expect(relativeError(onWasm[index].dx, reference.dx)).toBeLessThan(1e-4);
        expect(relativeError(onWasm[index].dw, reference.dw)).toBeLessThan(1e-4);
      },
    );

    it.each(inputOnlyCases.map((c, i) => [c.name, i] as const))(
      '%s: values and input gradient match the cpu backend',
      (_name, index) => {
        const reference = inputOnlyValues(index);
        expect(relativeError(inputOnlyOnWasm[index].y, reference.y)).toBeLessThan(1e-5);
        expect(relativeError(inputOnlyOnWasm[index].dx, reference.dx)).toBeLessThan(1e-5);
      },
    );

    it('trains a batch-norm / depthwise / relu6 / pooling net: every gradient matches the cpu backend', () => {
      const reference = smallNetGradients();
      expect(smallNetOnWasm).toHaveLength(reference.length);
      reference.forEach((expected, i) => {
        expect(expected.some((v) => v !== 0)).toBe(true);
        expect(relativeError(smallNetOnWasm[i], expected)).toBeLessThan(1e-4);
      });
    });

    it('rejects a dy whose shape does not fit the convolution, naming both shapes', async () => {
      await tf.setBackend('wasm');
      try {
        const x = tf.zeros([1, 6, 6, 2]);
        const dy = tf.zeros([1, 5, 5, 3]);
        expect(() =>
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] },
            ),
        ).toThrow('expected dy of shape [1, 6, 6, 3], got [1, 5, 5, 3]');
        tf.dispose([x, dy]);
      } finally {
        await tf.setBackend('cpu');
      }
    });
  });
}

describeKernels(false);
// The native GEMM is optional (built by src/ml/backend/native/build.js); test it wherever it loads.
if (loadNativeGemm().library) describeKernels(true);
