import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { loadDataset } from '../data';
import { trainEmbeddingModel, type TrainingResult } from '../training';
import type { DatasetSplit, ProgressEvent } from '../types';
import { classShards } from './gradient-workers';

describe('classShards', () => {
  it('cuts an m-per-class batch into contiguous shards of whole classes', () => {
    expect(classShards(24, 4, 2)).toEqual([
      [0, 12],
      [12, 24],
    ]);
    expect(classShards(20, 4, 2)).toEqual([
      [0, 12],
      [12, 20],
    ]);
    expect(() => classShards(8, 4, 3)).toThrow(
      'a batch of 2 classes cannot be cut into 3 shards of whole classes',
    );
    expect(() => classShards(10, 4, 1)).toThrow(
      'batch of 10 is not a whole number of classes of 4',
    );
    expect(() => classShards(8, 4, 0)).toThrow('shards must be a positive integer (got 0)');
  });
});

describe('trainEmbeddingModel with gradient workers', () => {
  let split: DatasetSplit;
  const tiny = {
    dataset: 'mnist',
    embeddingDim: 8,
    batchSize: 20,
    perClass: 4,
    stepsPerEpoch: 4,
    epochs: 1,
    seed: 1,
  };

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
    split = await loadDataset('mnist', { seed: 1, maxTrain: 100, maxValidation: 20, maxTest: 40 });
  });

  async function run(parallel: {
    workers?: number;
    shards?: number;
  }): Promise<{ losses: number[]; result: TrainingResult }> {
    const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-parallel-'));
    const events: ProgressEvent[] = [];
    try {
      const result = await trainEmbeddingModel(
        { ...tiny, ...parallel, outDir },
        { split, onProgress: (e) => events.push(e) },
      );
      const losses = events.filter((e) => e.phase === 'train').map((e) => e.loss as number);
      return { losses, result };
    } finally {
      await fs.rm(outDir, { recursive: true, force: true });
    }
  }

  function expectClose(actual: number[], expected: number[]): void {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThan(1e-4));
  }

  it('2 workers give the loss curve and test metrics of 1 worker on the same 2 shards', async () => {
    const before = tf.memory().numTensors;
    const one = await run({ workers: 1, shards: 2 });
    const two = await run({ workers: 2, shards: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(one.losses).toHaveLength(4);
    expect(one.losses[0]).toBeGreaterThan(0);
    expectClose(two.losses, one.losses);
    expect(Math.abs(two.result.metrics.mapAtR - one.result.metrics.mapAtR)).toBeLessThan(1e-4);
    expect((two.result.manifest.training as { workers: number }).workers).toBe(2);
  });

  it('one shard in a worker trains exactly as the calling thread does (weights, batch-norm statistics)', async () => {
    const here = await run({});
    const worker = await run({ workers: 2, shards: 1 });
    expectClose(worker.losses, here.losses);
    // Validation and test embeddings use the batch-norm moving statistics the workers sent back.
    expect(Math.abs(worker.result.metrics.mapAtR - here.result.metrics.mapAtR)).toBeLessThan(1e-4);
    expect(Math.abs(worker.result.metrics.recallAt1 - here.result.metrics.recallAt1)).toBeLessThan(
      1e-4,
    );
  });

  it('rejects a shard count the batch cannot be cut into', async () => {
    await expect(run({ workers: 2, shards: 6 })).rejects.toThrow(
      'a batch of 5 classes cannot be cut into 6 shards of whole classes',
    );
  });
});
