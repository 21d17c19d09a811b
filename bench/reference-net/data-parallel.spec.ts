import { SeededRandom } from '../../src/ml/data/random';
import { DataParallelTrainer, shardBounds } from './data-parallel';
import { referenceLabels } from './reference-net';

const SIZE = 8;
const BATCH = 16;

function batches(count: number, seed: number): Float32Array[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () =>
    Float32Array.from({ length: BATCH * SIZE * SIZE }, () => random.next()),
  );
}

describe('shardBounds', () => {
  it('cuts a batch into contiguous shards of whole classes of 4', () => {
    expect(shardBounds(128, 2)).toEqual([
      [0, 64],
      [64, 128],
    ]);
    expect(shardBounds(24, 3)).toEqual([
      [0, 8],
      [8, 16],
      [16, 24],
    ]);
  });

  it('falls back to single images when classes cannot be split evenly, and rejects impossible cuts', () => {
    expect(shardBounds(10, 3)).toEqual([
      [0, 3],
      [3, 7],
      [7, 10],
    ]);
    expect(() => shardBounds(2, 3)).toThrow('batch of 2 cannot be cut into 3 shards');
    expect(() => shardBounds(8, 0)).toThrow('shards must be a positive integer (got 0)');
  });
});

describe('DataParallelTrainer', () => {
  let single: DataParallelTrainer;
  let parallel: DataParallelTrainer;

  beforeAll(async () => {
    const common = { size: SIZE, channels: 1, seed: 7, shards: 2, backend: 'wasm' };
    [single, parallel] = await Promise.all([
      DataParallelTrainer.start({ ...common, workers: 1 }),
      DataParallelTrainer.start({ ...common, workers: 2 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([single?.close(), parallel?.close()]);
  });

  it('gives the loss curve of one worker on the same shards, and keeps replicas identical', async () => {
    const labels = referenceLabels(BATCH);
    const singleLosses: number[] = [];
    const parallelLosses: number[] = [];
    for (const images of batches(4, 11)) {
      singleLosses.push(await single.trainStep(images, labels));
      parallelLosses.push(await parallel.trainStep(images, labels));
    }
    expect(singleLosses.every((loss) => loss > 0)).toBe(true);
    // The curve moves, so equality below is not a constant matching a constant.
    expect(new Set(singleLosses.map((l) => l.toFixed(6))).size).toBeGreaterThan(1);
    parallelLosses.forEach((loss, step) =>
      expect(Math.abs(loss - singleLosses[step])).toBeLessThan(1e-4),
    );

    const [reference] = await single.parameters();
    const replicas = await parallel.parameters();
    expect(replicas).toHaveLength(2);
    expect(Array.from(replicas[1])).toEqual(Array.from(replicas[0]));
    let maxDiff = 0;
    reference.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - replicas[0][i]))));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('embeds and attacks a batch split across workers as one worker does', async () => {
    const [images] = batches(1, 5);
    const labels = referenceLabels(BATCH);
    const [a, b] = await Promise.all([single.infer(images), parallel.infer(images)]);
    expect(a).toHaveLength(BATCH * 128);
    let maxDiff = 0;
    a.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b[i]))));
    expect(maxDiff).toBeLessThan(1e-5);

    const adversarial = await parallel.pgdStep(images, labels, 0.01);
    expect(adversarial).toHaveLength(images.length);
    let moved = 0;
    adversarial.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
      expect(Math.abs(v - images[i])).toBeLessThanOrEqual(0.01 + 1e-6);
      if (Math.abs(v - images[i]) > 0.005) moved++;
    });
    expect(moved).toBeGreaterThan(images.length / 2);
  });

  it('rejects a batch that is not a whole number of images, naming the shapes', async () => {
    await expect(
      parallel.trainStep(new Float32Array(SIZE * SIZE + 3), new Int32Array(1)),
    ).rejects.toThrow('images: 67 values is not a whole number of 8x8x1 images');
  });
});
