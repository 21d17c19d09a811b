import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { SeededRandom } from '../data/random';
import { multiSimilarityLoss } from '../losses';
import type { BatchLoss } from '../types';
import { instanceViews, withInstanceTerm } from './instance-term';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('instanceViews', () => {
  const shape: [number, number, number] = [4, 4, 1];
  // Image n is filled with the value n: a view's source can be read off its pixels.
  const batch = new Float32Array(6 * 16);
  for (let n = 0; n < 6; n++) batch.fill(n, n * 16, (n + 1) * 16);

  it('makes two views of distinct images, labelled by instance in the same order', () => {
    const { pixels, labels } = instanceViews(
      batch,
      shape,
      3,
      { maxShift: 1, horizontalFlip: false },
      new SeededRandom(3),
    );
    expect(Array.from(labels)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(pixels.length).toBe(6 * 16);
    // A shift repeats edge pixels of a constant image, so each view keeps its source's value.
    const sources = Array.from({ length: 6 }, (_, v) => pixels[v * 16]);
    for (let v = 0; v < 6; v++) {
      expect(new Set(pixels.subarray(v * 16, (v + 1) * 16))).toEqual(new Set([sources[v]]));
    }
    expect(sources.slice(3)).toEqual(sources.slice(0, 3));
    expect(new Set(sources.slice(0, 3)).size).toBe(3);
  });

  it('draws different views of the same image', () => {
    const ramp = Float32Array.from({ length: 16 }, (_, i) => i / 16);
    const { pixels } = instanceViews(
      ramp,
      shape,
      1,
      { maxShift: 0, horizontalFlip: false, maxRotation: 30 },
      new SeededRandom(1),
    );
    expect(Array.from(pixels.subarray(0, 16))).not.toEqual(Array.from(pixels.subarray(16)));
  });

  it('refuses more instances than the batch holds', () => {
    expect(() =>
      instanceViews(batch, shape, 7, { maxShift: 1, horizontalFlip: false }, new SeededRandom(1)),
    ).toThrow(/cannot take 7 instances from a batch of 6 images/);
  });
});

describe('withInstanceTerm', () => {
  // A loss that reveals which rows and labels it saw: sum(embeddings) * 1000 + sum(labels).
  const probe: BatchLoss = (embeddings, labels) =>
    tf.tidy(() => embeddings.sum().mul(1000).add(labels.sum().toFloat()) as tf.Scalar);

  it('adds the weighted loss of the view rows to the loss of the class rows', () => {
    const embeddings = tf.tensor2d([[1], [2], [3], [10], [20], [10], [20]]);
    const labels = tf.tensor1d([7, 7, 8, 0, 1, 0, 1], 'int32');
    const value = withInstanceTerm(probe, { weight: 0.5, instances: 2 })(embeddings, labels);
    // class rows: 6 * 1000 + 22; view rows: 60 * 1000 + 2, weighted by 0.5.
    expect(value.dataSync()[0]).toBeCloseTo(6022 + 0.5 * 60002, 3);
    tf.dispose([embeddings, labels, value]);
  });

  it('rejects a batch without room for the class rows', () => {
    const embeddings = tf.zeros([4, 2]) as tf.Tensor2D;
    const labels = tf.tensor1d([0, 1, 0, 1], 'int32');
    expect(() => withInstanceTerm(probe, { weight: 1, instances: 2 })(embeddings, labels)).toThrow(
      /expected at least 2 class rows before 4 view rows/,
    );
    tf.dispose([embeddings, labels]);
  });

  it('equals the weighted sum of its two parts on a real loss and leaks no tensors', () => {
    const loss = multiSimilarityLoss();
    const raw = tf.randomNormal([10, 4], 0, 1, 'float32', 5);
    const embeddings = tf.tidy(() => tf.div(raw, tf.norm(raw, 2, 1, true)) as tf.Tensor2D);
    const labels = tf.tensor1d([0, 0, 1, 1, 2, 2, 0, 1, 0, 1], 'int32');
    const before = tf.memory().numTensors;
    const combined = withInstanceTerm(loss, { weight: 2, instances: 2 })(embeddings, labels);
    expect(tf.memory().numTensors).toBe(before + 1);
    const classPart = tf.tidy(() => loss(embeddings.slice([0, 0], [6, -1]), labels.slice(0, 6)));
    const viewPart = tf.tidy(() => loss(embeddings.slice([6, 0], [4, -1]), labels.slice(6, 4)));
    expect(combined.dataSync()[0]).toBeCloseTo(
      classPart.dataSync()[0] + 2 * viewPart.dataSync()[0],
      5,
    );
    tf.dispose([raw, embeddings, labels, combined, classPart, viewPart]);
  });
});
