import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import {
  distancesBetween,
  distancesWithin,
  EmbeddingTable,
  euclidean,
  rowDistances,
  selectRows,
} from './distances';

const rows = [
  [0, 0],
  [3, 4],
  [1, 0],
];

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

describe('distances: one module, names that say what they compute', () => {
  it('agree between tensors and plain arrays', () => {
    const table = new EmbeddingTable(new Float32Array(rows.flat()), 2);
    const within = tf.tidy(() => distancesWithin(tf.tensor2d(rows)).dataSync());
    const between = tf.tidy(() =>
      distancesBetween(tf.tensor2d(rows), tf.tensor2d(rows.slice(1))).arraySync(),
    );
    const plain = table.distancesWithin();
    expect(plain[0 * 3 + 1]).toBe(5);
    expect(plain[1 * 3 + 0]).toBe(5);
    expect(plain[2 * 3 + 2]).toBe(0);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        expect(within[i * 3 + j]).toBeCloseTo(plain[i * 3 + j], 4);
        expect(table.distance(i, j)).toBe(euclidean(table.row(i), table.row(j)));
        if (j > 0) expect(between[i][j - 1]).toBeCloseTo(plain[i * 3 + j], 4);
      }
    }
    const paired = tf.tidy(() =>
      rowDistances(tf.tensor2d(rows), tf.tensor2d([rows[1], rows[1], rows[1]])).dataSync(),
    );
    expect(Array.from(paired).map((d) => Math.round(d * 1e4) / 1e4)).toEqual([5, 0, 4.4721]);
  });

  it('selects rows by numbers or by an index tensor, the same way', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(rows);
    const byNumbers = selectRows(x, [2, 0, 2]);
    const indices = tf.tensor1d([2, 0, 2], 'int32');
    const byTensor = selectRows(x, indices);
    expect(byNumbers.arraySync()).toEqual([rows[2], rows[0], rows[2]]);
    expect(byTensor.arraySync()).toEqual(byNumbers.arraySync());
    expect(() => selectRows(x, new Int32Array([3]))).toThrow(/row index 3 out of range \[0, 3\)/);
    tf.dispose([x, byNumbers, indices, byTensor]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
