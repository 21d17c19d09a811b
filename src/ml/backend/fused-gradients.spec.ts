import * as tf from '@tensorflow/tfjs';
import { lcgValues, relativeError } from '../../../test/support/kernel-test-values';
import { conv2dBiasRelu, reluGradient } from './fused-gradients';
import { initBackend } from './index';

const X_SHAPE: [number, number, number, number] = [4, 9, 8, 3];
const W_SHAPE: [number, number, number, number] = [3, 3, 3, 5];

/** Gradients of sum(layer(x, w, b) * r) w.r.t. x, w and b. */
function gradients(
  layer: (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D,
): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(lcgValues(tf.util.sizeFromShape(X_SHAPE), 1), X_SHAPE);
    const w = tf.tensor4d(lcgValues(tf.util.sizeFromShape(W_SHAPE), 2), W_SHAPE);
    const b = tf.tensor1d(lcgValues(5, 3));
    const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
      const y = layer(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D);
      return tf.sum(tf.mul(y, tf.tensor(lcgValues(y.size, 4), y.shape)));
    })([x, w, b]);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

/** The same layer from stock ops whose gradients this module does not touch. */
const unfused = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) =>
  tf.maximum(tf.add(tf.conv2d(x, w, 1, 'same'), b), 0) as tf.Tensor4D;
const fused = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => conv2dBiasRelu(x, w, b);

describe.each(['wasm', 'cpu'])('conv2dBiasRelu on %s', (backend) => {
  beforeAll(async () => {
    await initBackend('wasm');
    await tf.setBackend(backend);
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  it('gives the values and the x / filter / bias gradients of relu(conv2d + bias)', () => {
    const [expectedY, actualY] = [unfused, fused].map((layer) =>
      tf.tidy(() => {
        const x = tf.tensor4d(lcgValues(tf.util.sizeFromShape(X_SHAPE), 1), X_SHAPE);
        const w = tf.tensor4d(lcgValues(tf.util.sizeFromShape(W_SHAPE), 2), W_SHAPE);
        return layer(x, w, tf.tensor1d(lcgValues(5, 3))).dataSync() as Float32Array;
      }),
    );
    expect(relativeError(actualY, expectedY)).toBeLessThan(1e-5);
    const expected = gradients(unfused);
    const actual = gradients(fused);
    expected.forEach((e, i) => {
      expect(e.some((v) => v !== 0)).toBe(true);
      expect(relativeError(actual[i], e)).toBeLessThan(1e-5);
    });
  });

  it('stays one FusedConv2D kernel while a gradient is taken (no Add or Relu), and leaks no tensor', async () => {
    const x = tf.tensor4d(lcgValues(tf.util.sizeFromShape(X_SHAPE), 1), X_SHAPE);
    const w = tf.variable(tf.tensor4d(lcgValues(tf.util.sizeFromShape(W_SHAPE), 2), W_SHAPE));
    const b = tf.variable(tf.tensor1d(lcgValues(5, 3)));
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(conv2dBiasRelu(x, w, b)), [w, b]);
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(tf.memory().numTensors).toBe(before);
    const names = profile.kernels.map((k) => k.name);
    expect(names).toContain('FusedConv2D');
    expect(names).not.toContain('Relu');
    expect(names).not.toContain('Add');
    expect(names).not.toContain('Conv2D');
    // x is a constant here: its gradient (the input backprop) is not computed.
    expect(names).not.toContain('Conv2DBackpropInput');
    tf.dispose([x, w, b]);
  });

  it('rejects a bias that does not match the filters, naming both', () => {
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const w = tf.zeros(W_SHAPE) as tf.Tensor4D;
    const b = tf.zeros([4]) as tf.Tensor1D;
    expect(() => conv2dBiasRelu(x, w, b)).toThrow('bias [4] must have one value per filter (5)');
    tf.dispose([x, w, b]);
  });
});

describe('reluGradient', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('passes dy where the activation is positive and 0 elsewhere (0 included)', () => {
    const dy = tf.tensor1d([1, 2, 3, 4, 5]);
    const y = tf.tensor1d([-1, 0, 0.5, 2, -0.1]);
    const g = reluGradient(dy, y);
    expect(Array.from(g.dataSync())).toEqual([0, 0, 3, 4, 0]);
    tf.dispose([dy, y, g]);
  });

  it('rejects shapes that differ', () => {
    const dy = tf.zeros([2, 3]);
    const y = tf.zeros([3, 2]);
    expect(() => reluGradient(dy, y)).toThrow('dy [2, 3] and activation [3, 2] differ in shape');
    tf.dispose([dy, y]);
  });
});
