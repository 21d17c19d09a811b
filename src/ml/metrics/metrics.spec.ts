import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { createEmbeddingModel } from '../models';
import { embedAll, evaluateRetrieval, kMeans, normalizedMutualInformation } from '.';

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

describe('evaluateRetrieval', () => {
  it('matches a hand-computed 1-d case', () => {
    // Points 0, 1, 3, 4, 1.5 with classes 0, 0, 1, 1, 1. Neighbour orders (query excluded):
    // q0: 1+ 4 2 3 | q1: 4 0+ 2 3 | q2: 3+ 4+ 1 0 | q3: 2+ 4+ 1 0 | q4: 1 0 2+ 3+ (tie at 1.5 broken by index)
    const before = tf.memory().numTensors;
    const m = evaluateRetrieval(
      Float32Array.from([0, 1, 3, 4, 1.5]),
      1,
      Int32Array.from([0, 0, 1, 1, 1]),
      {
        blockSize: 2,
      },
    );
    expect(m.recallAt1).toBeCloseTo(0.6, 6);
    expect(m.recallAt2).toBeCloseTo(0.8, 6);
    expect(m.recallAt4).toBe(1);
    expect(m.recallAt8).toBe(1);
    expect(m.mapAtR).toBeCloseTo(0.6, 6); // APs 1, 0, 1, 1, 0
    expect(m.meanPairwiseDistance).toBeCloseTo(2, 5); // 20 over 10 pairs
    expect(m.count).toBe(5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("returns each query's outcome on request: hit at 1, average precision, chance of its class", () => {
    // The 1-d case above: classes 0, 0, 1, 1, 1, so a random ranking finds a class-mate first with
    // probability 1/4 (class 0) or 2/4 (class 1).
    const labels = Int32Array.from([0, 0, 1, 1, 1]);
    const points = Float32Array.from([0, 1, 3, 4, 1.5]);
    const m = evaluateRetrieval(points, 1, labels, { skipNmi: true, perQuery: true });
    expect(m.perQuery).toEqual({
      hitAt1: [1, 0, 1, 1, 0],
      averagePrecision: [1, 0, 1, 1, 0],
      chanceAt1: [0.25, 0.25, 0.5, 0.5, 0.5],
    });
    expect(evaluateRetrieval(points, 1, labels, { skipNmi: true }).perQuery).toBeUndefined();
  });

  it('leaves singleton classes out, and calls recall undefined (NaN) when every class is one', () => {
    const mixed = evaluateRetrieval(
      Float32Array.from([0, 1, 10, 20]),
      1,
      Int32Array.from([0, 0, 1, 2]),
      { skipNmi: true },
    );
    expect(mixed.recallAt1).toBe(1); // only the two class-0 items are queries
    const singletons = evaluateRetrieval(
      Float32Array.from([0, 1, 2]),
      1,
      Int32Array.from([0, 1, 2]),
      {
        skipNmi: true,
      },
    );
    expect(singletons.recallAt1).toBeNaN();
    expect(singletons.mapAtR).toBeNaN();
    expect(singletons.count).toBe(3);
  });

  it('scores MAP@R by precision at each relevant rank within R', () => {
    // Points 0, 1, 2, 3, 100, 101 with classes 0, 1, 0, 0, 1, 1 (R = 2 for every query). APs:
    // q0: 1- 2+ -> 0.25 | q1: 0- 2- -> 0 | q2: 1- 3+ -> 0.25 | q3: 2+ 1- -> 0.5 | q4: 5+ 3- -> 0.5 | q5: 4+ 3- -> 0.5
    const m = evaluateRetrieval(
      Float32Array.from([0, 1, 2, 3, 100, 101]),
      1,
      Int32Array.from([0, 1, 0, 0, 1, 1]),
      {
        skipNmi: true,
      },
    );
    expect(m.recallAt1).toBeCloseTo(3 / 6, 6); // hits: q3, q4, q5
    expect(Number.isNaN(m.nmi)).toBe(true);
    expect(m.mapAtR).toBeCloseTo(2 / 6, 6);
  });

  it('rejects mismatched sizes', () => {
    expect(() => evaluateRetrieval(new Float32Array(5), 2, Int32Array.from([0, 1]))).toThrow(
      /expected 2 x 2 = 4/,
    );
  });
});

describe('clustering', () => {
  it('computes NMI by hand and finds two separated blobs', () => {
    expect(normalizedMutualInformation([0, 0, 1, 1], [0, 0, 1, 1])).toBeCloseTo(1, 6);
    expect(normalizedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(0, 6);
    expect(normalizedMutualInformation([0, 0, 1, 1], [0, 0, 0, 1])).toBeCloseTo(0.343712, 5);
    const data = Float32Array.from([0, 0, 0.1, 0, 0, 0.1, 5, 5, 5.1, 5, 5, 5.1]);
    const clusters = kMeans(data, 2, 2, 7);
    expect(normalizedMutualInformation([0, 0, 0, 1, 1, 1], clusters)).toBeCloseTo(1, 6);
  });
});

describe('embedAll', () => {
  it('clusters many separated blobs in many dimensions exactly, leaving no tensors behind', () => {
    // 40 blobs of 5 points in 300-d, each around its own axis: many centres, long vectors.
    const dim = 300;
    const blobs = 40;
    const data = new Float32Array(blobs * 5 * dim);
    const labels = new Int32Array(blobs * 5);
    for (let b = 0; b < blobs; b++) {
      for (let p = 0; p < 5; p++) {
        const row = b * 5 + p;
        labels[row] = b;
        data[row * dim + b] = 10;
        data[row * dim + blobs + p] = 0.1; // small within-blob spread
      }
    }
    const before = tf.memory().numTensors;
    const clusters = kMeans(data, dim, blobs, 3);
    expect(tf.memory().numTensors).toBe(before);
    expect(normalizedMutualInformation(labels, clusters)).toBeCloseTo(1, 6);
  });

  it('embeds in batches without leaking tensors and checks the image shape', async () => {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [28, 28, 1],
      embeddingDim: 4,
    });
    const set = {
      images: new Float32Array(5 * 784).map((_, i) => (i % 13) / 13),
      labels: new Int32Array(5),
      shape: [28, 28, 1] as [number, number, number],
    };
    const before = tf.memory().numTensors;
    const batched = embedAll(model, set, 2);
    const whole = embedAll(model, set, 5);
    expect(batched).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(batched[i]).toBeCloseTo(whole[i], 5);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => embedAll(model, { ...set, shape: [14, 56, 1] })).toThrow(
      /expects images of shape \[28, 28, 1\]/,
    );
    model.dispose();
  });
});
