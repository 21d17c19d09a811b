import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { FlatAdam } from './flat-adam';

describe('FlatAdam', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it("takes the steps of tfjs's Adam (bias-corrected, same epsilon) to float32 rounding", () => {
    const start = [0.5, -1.25, 2, 0.001, -0.3];
    const gradientsAt = (step: number) => start.map((_, i) => Math.sin(step * 1.7 + i) * (i + 1));
    const reference = tf.variable(tf.tensor1d(start));
    const optimizer = tf.train.adam(0.01);
    const params = Float32Array.from(start);
    const adam = new FlatAdam(start.length, { learningRate: 0.01 });
    for (let step = 0; step < 6; step++) {
      const gradient = tf.tensor1d(gradientsAt(step));
      optimizer.applyGradients([{ name: reference.name, tensor: gradient }]);
      gradient.dispose();
      adam.apply(params, Float32Array.from(gradientsAt(step)));
    }
    const expected = reference.dataSync();
    expect(adam.iterations).toBe(6);
    params.forEach((value, i) => {
      expect(Math.abs(value - expected[i])).toBeLessThan(1e-6);
      expect(value).not.toBeCloseTo(start[i], 3);
    });
    reference.dispose();
    optimizer.dispose();
  });

  it('rejects vectors of the wrong length and a non-positive learning rate', () => {
    const adam = new FlatAdam(3, { learningRate: 1e-3 });
    expect(() => adam.apply(new Float32Array(3), new Float32Array(2))).toThrow(
      'expected 3 parameters and gradients, got 3 and 2',
    );
    expect(() => new FlatAdam(3, { learningRate: 0 })).toThrow('learning rate must be positive');
    expect(() => new FlatAdam(0, { learningRate: 1 })).toThrow('positive integer');
  });
});
