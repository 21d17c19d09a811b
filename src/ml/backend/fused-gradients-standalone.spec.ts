import * as tf from '@tensorflow/tfjs';
import { conv2dBiasRelu } from './fused-gradients';

// No initBackend here: the op must bring its own gradient.
describe('conv2dBiasRelu without initBackend', () => {
  it('differentiates on a backend set up directly', async () => {
    await tf.setBackend('cpu');
    const x = tf.ones([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.fill([3, 3, 2, 3], 0.1) as tf.Tensor4D;
    const b = tf.tensor1d([0.5, -10, 0]);
    const [dw, db] = tf.grads((ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(conv2dBiasRelu(x, ww as tf.Tensor4D, bb as tf.Tensor1D)),
    )([w, b]);
    // Every output of filter 1 is below zero (bias -10): ReLU passes it no gradient.
    expect(Array.from(db.dataSync())).toEqual([16, 0, 16]);
    expect(dw.shape).toEqual([3, 3, 2, 3]);
    tf.dispose([x, w, b, dw, db]);
  });
});
