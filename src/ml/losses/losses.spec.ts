import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { SeededRandom } from '../data/random';
import { distancesWithin } from '../distances';
import {
  contrastiveLoss,
  createLoss,
  distanceWeightedSampling,
  marginLossOfPairs,
  mineBatchHard,
  mineSemiHard,
  multiSimilarityLoss,
  tripletLoss,
  tripletMarginLoss,
} from '.';

// Four points on a line (y = 0), classes [0, 0, 1, 1]. Distances:
// d01 = 1, d02 = 1.5, d03 = 3, d12 = 0.5, d13 = 2, d23 = 1.5.
const points = [
  [0, 0],
  [1, 0],
  [1.5, 0],
  [3, 0],
];
const labels = [0, 0, 1, 1];

function scalar(fn: () => tf.Scalar): number {
  const value = tf.tidy(fn);
  const out = value.dataSync()[0];
  value.dispose();
  return out;
}

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

describe('pairwise distances and miners', () => {
  it('computes distances with a zero diagonal', () => {
    const d = tf.tidy(() => distancesWithin(tf.tensor2d(points)).arraySync());
    expect(d[0][0]).toBe(0);
    expect(d[0][1]).toBeCloseTo(1, 5);
    expect(d[1][2]).toBeCloseTo(0.5, 5);
    expect(d[0][3]).toBeCloseTo(3, 5);
  });

  it('mines batch-hard and semi-hard triplets', () => {
    const d = tf.tidy(() => distancesWithin(tf.tensor2d(points)).dataSync());
    const hard = mineBatchHard(d, labels);
    expect([...hard.anchors]).toEqual([0, 1, 2, 3]);
    expect([...hard.positives]).toEqual([1, 0, 3, 2]);
    expect([...hard.negatives]).toEqual([2, 2, 1, 1]);
    const semi = mineSemiHard(d, labels);
    // (0,1): nearest negative farther than 1 is 2 (1.5); (1,0): 3 (2); (2,3): none farther than 1.5 -> farthest, 0;
    // (3,2): 1 (2).
    expect([...semi.negatives]).toEqual([2, 3, 0, 1]);
  });
});

describe('losses on a hand-computed batch', () => {
  const run = (loss: (e: tf.Tensor2D, l: tf.Tensor1D) => tf.Scalar) =>
    scalar(() => loss(tf.tensor2d(points), tf.tensor1d(labels, 'int32')));

  it('batch-hard triplet: mean of [0, 0.7, 1.2, 0]', () => {
    expect(run(tripletLoss({ margin: 0.2 }))).toBeCloseTo(0.475, 5);
  });

  it('semi-hard triplet: mean of [0, 0, 0.2, 0]', () => {
    expect(run(tripletLoss({ margin: 0.2, mining: 'semi-hard' }))).toBeCloseTo(0.05, 5);
  });

  it('triplet loss of explicit anchors, positives and negatives', () => {
    const value = scalar(() =>
      tripletMarginLoss(
        tf.tensor2d([
          [0, 0],
          [3, 0],
        ]),
        tf.tensor2d([
          [1, 0],
          [1.5, 0],
        ]),
        tf.tensor2d([
          [0.5, 0],
          [1, 0],
        ]),
        0.2,
      ),
    );
    // [1 - 0.5 + 0.2]+ = 0.7 and [1.5 - 2 + 0.2]+ = 0
    expect(value).toBeCloseTo(0.35, 5);
  });

  it('contrastive: mean of pulls (1, 2.25) plus mean of pushes (0, 0, 0.25, 0)', () => {
    expect(run(contrastiveLoss({ posMargin: 0, negMargin: 1 }))).toBeCloseTo(1.6875, 5);
  });

  it('margin loss of pairs: (0.5 + 0.9) over two non-zero terms', () => {
    const value = scalar(() =>
      marginLossOfPairs(tf.tensor1d([1.5, 1]), tf.tensor1d([0.5, 2]), tf.scalar(1.2), 0.2),
    );
    expect(value).toBeCloseTo(0.7, 5);
  });

  it('multi-similarity: only anchor 2 keeps pairs, 0.52 ln 2', () => {
    const angles = [0, 30, 90, 150].map((deg) => (deg * Math.PI) / 180);
    const unit = angles.map((a) => [Math.cos(a), Math.sin(a)]);
    const value = scalar(() =>
      multiSimilarityLoss({ alpha: 2, beta: 50, base: 0.5, epsilon: 0.1 })(
        tf.tensor2d(unit),
        tf.tensor1d(labels, 'int32'),
      ),
    );
    expect(value).toBeCloseTo(0.52 * Math.LN2, 5);
  });
});

describe('margin loss sampling and the registry', () => {
  it('samples only negatives, uniformly when all are beyond the non-zero-loss cutoff', () => {
    const distances = Float32Array.from([
      0, 0.1, 1.9, 1.9, 0.1, 0, 1.9, 1.9, 1.9, 1.9, 0, 0.1, 1.9, 1.9, 0.1, 0,
    ]);
    const pairs = distanceWeightedSampling(
      distances,
      Int32Array.from(labels),
      16,
      new SeededRandom(1),
    );
    expect(pairs.anchors).toHaveLength(4);
    pairs.anchors.forEach((a, i) => expect(labels[pairs.negatives[i]]).not.toBe(labels[a]));
  });

  it('creates every loss by name; margin learns beta', () => {
    for (const name of [
      'triplet',
      'triplet-semihard',
      'contrastive',
      'margin',
      'multi-similarity',
    ]) {
      const loss = createLoss(name);
      const e = tf.variable(
        tf.tensor2d([
          [1, 0],
          [0.8, 0.6],
          [0, 1],
          [-0.6, 0.8],
        ]),
      );
      const { value, grads } = tf.variableGrads(
        () => loss.compute(e as unknown as tf.Tensor2D, tf.tensor1d(labels, 'int32')),
        [e, ...loss.variables],
      );
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      if (name === 'margin') expect(Object.keys(grads)).toHaveLength(2);
      tf.dispose([value, e, ...Object.values(grads)]);
      loss.dispose();
    }
    expect(() => createLoss('arcface')).toThrow(/unknown loss 'arcface'/);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    const e = tf.tensor2d(points);
    const l = tf.tensor1d(labels, 'int32');
    for (const loss of [tripletLoss(), contrastiveLoss(), multiSimilarityLoss()])
      loss(e, l).dispose();
    tf.dispose([e, l]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
