import * as tf from '@tensorflow/tfjs';
import { temporaryFolders } from '../../../test/support/folders';
import { smallMnistSplit, TINY_MNIST_RUN } from '../../../test/support/training';
import { selectImages } from '../data/split';
import { readManifest } from '../model-store';
import type { DatasetSplit, Defense, DefenseContext, ProgressEvent } from '../types';
import { defaultPerClass, learningRateAt, readCheckpointState, trainEmbeddingModel } from '.';
import { checkTrainingConfig, type TrainingConfig } from './config';

let split: DatasetSplit;
const tiny = TINY_MNIST_RUN;
const tempDir = temporaryFolders('train-');

beforeAll(async () => {
  split = await smallMnistSplit();
});

describe('trainEmbeddingModel', () => {
  it('trains, reports progress, checkpoints, writes a model version and leaks no tensors', async () => {
    const outDir = await tempDir();
    const events: ProgressEvent[] = [];
    const before = tf.memory().numTensors;
    const result = await trainEmbeddingModel(
      { ...tiny, outDir },
      { split, onProgress: (e) => events.push(e) },
    );
    expect(tf.memory().numTensors).toBe(before);
    const steps = events.filter((e) => e.phase === 'train');
    expect(steps.map((e) => e.step)).toEqual([1, 2]);
    expect(steps[0].loss).toBeGreaterThan(0);
    expect(steps[1].imagesPerSecond).toBeGreaterThan(0);
    expect(steps[1].etaSeconds).toBe(0);
    expect(result.history).toHaveLength(1);
    expect(result.metrics.count).toBe(40);
    const manifest = await readManifest(outDir);
    expect(manifest.id).toBe(result.manifest.id);
    expect(manifest.loss).toEqual({
      name: 'triplet',
      config: { margin: 0.2, mining: 'batch-hard' },
    });
    expect(manifest.defense?.name).toBe('none');
    expect(manifest.dataset?.testClasses).toEqual([5, 6, 7, 8, 9]);
    expect((manifest.training as { batchSize: number }).batchSize).toBe(20);
    expect((await readCheckpointState(outDir))?.epoch).toBe(1);
  });

  it('trains with the instance term: views join the batch, the manifest records it, no tensor leaks', async () => {
    const outDir = await tempDir();
    const events: ProgressEvent[] = [];
    const before = tf.memory().numTensors;
    const instanceTerm = { weight: 0.5, instances: 6 };
    const augmentation = { maxShift: 2, horizontalFlip: false };
    const result = await trainEmbeddingModel(
      { ...tiny, loss: 'multi-similarity', augmentation, instanceTerm, outDir },
      { split, onProgress: (e) => events.push(e) },
    );
    expect(tf.memory().numTensors).toBe(before);
    const steps = events.filter((e) => e.phase === 'train');
    expect(steps).toHaveLength(2);
    expect(steps.every((e) => Number.isFinite(e.loss) && (e.loss ?? 0) > 0)).toBe(true);
    expect(result.metrics.count).toBe(40);
    const manifest = await readManifest(outDir);
    expect((manifest.training as { instanceTerm: unknown }).instanceTerm).toEqual(instanceTerm);
  });

  it('delivers the last epoch when no validation image has another of its class', async () => {
    // One held-out image per class (emoji's split at its default fraction): R@1 cannot rank epochs.
    const firstOfClass = new Map<number, number>();
    split.validation.labels.forEach((label, i) => {
      if (!firstOfClass.has(label)) firstOfClass.set(label, i);
    });
    const singletons = {
      ...split,
      validation: selectImages(split.validation, [...firstOfClass.values()]),
    };
    const result = await trainEmbeddingModel(
      { ...tiny, epochs: 2, outDir: await tempDir() },
      { split: singletons },
    );
    expect(result.history.map((h) => h.validationRecallAt1)).toEqual([null, null]);
    expect(result.manifest.metrics?.bestEpoch).toBe(-1);
  });

  it('resumes from the last epoch checkpoint', async () => {
    const outDir = await tempDir();
    const first = await trainEmbeddingModel({ ...tiny, outDir }, { split });
    const resumed = await trainEmbeddingModel(
      { ...tiny, epochs: 2, outDir, resume: true },
      { split },
    );
    expect(resumed.history).toHaveLength(2);
    expect(resumed.history[0]).toEqual(first.history[0]);
    expect((await readCheckpointState(outDir))?.globalStep).toBe(4);
  });

  it('accepts any Defense instance: craft runs outside the tape, its tensors are disposed', async () => {
    const crafted: tf.Tensor[] = [];
    const defense: Defense = {
      name: 'shifted',
      config: { shift: 0.1 },
      craft: (ctx: DefenseContext) => {
        const shifted = tf.clipByValue(tf.add(ctx.batch.images, 0.1), 0, 1);
        crafted.push(shifted);
        return [shifted];
      },
      objective: (ctx: DefenseContext, inputs: tf.Tensor[]) =>
        ctx.loss(ctx.embedder.embed(inputs[0] as tf.Tensor4D, true), ctx.batch.labels),
    };
    const result = await trainEmbeddingModel(
      { ...tiny, outDir: await tempDir() },
      { split, defense },
    );
    expect(crafted).toHaveLength(2);
    expect(crafted.every((t) => t.isDisposed)).toBe(true);
    expect(result.manifest.defense).toEqual({ name: 'shifted', config: { shift: 0.1 } });
  });

  it('stops when its signal is aborted', async () => {
    const controller = new AbortController();
    const run = trainEmbeddingModel(
      { ...tiny, stepsPerEpoch: 50, outDir: await tempDir() },
      {
        split,
        signal: controller.signal,
        onProgress: (e) => e.phase === 'train' && controller.abort(),
      },
    );
    await expect(run).rejects.toThrow('training cancelled');
  });

  it('rejects impossible configurations before any work', async () => {
    await expect(
      trainEmbeddingModel({ ...tiny, batchSize: 20, perClass: 3, outDir: 'x' }),
    ).rejects.toThrow(/batchSize 20 must be a multiple of perClass 3/);
    await expect(
      trainEmbeddingModel({ ...tiny, loss: 'arcface', outDir: await tempDir() }, { split }),
    ).rejects.toThrow(/unknown loss/);
  });

  it('has one rule set for rir train, training jobs and the trainer (checkTrainingConfig)', () => {
    const check = (change: Partial<TrainingConfig>) => () =>
      checkTrainingConfig({ dataset: 'mnist', ...change });
    expect(check({ batchSize: 4, perClass: 8 })).toThrow(
      "batchSize 4 is smaller than the sampler's per-class m (perClass 8)",
    );
    expect(check({ loss: 'contrastive', lossOptions: { margin: 0.1 } })).toThrow(
      "contrastive has no option 'margin' (known: posMargin, negMargin)",
    );
    expect(check({ defense: 'panum', defenseOptions: { eps: 2 } })).toThrow(
      'training eps must be in [0, 1] (got 2)',
    );
    expect(check({ defense: 'shield' })).toThrow(/unknown defence 'shield'/);
    expect(check({ defense: 'none', inner: 'fast' })).toThrow(/needs a robust defence/);
    expect(check({ defense: 'panum', inner: 'fast' })).not.toThrow();
  });
});

describe('schedules and defaults', () => {
  it('computes learning rates and the default m', () => {
    const base = { learningRate: 0.1 };
    expect(learningRateAt({ ...base, schedule: 'constant' }, 50, 10, 100)).toBeCloseTo(0.1, 10);
    expect(
      learningRateAt({ ...base, schedule: 'step', decay: 0.5, decayEvery: 2 }, 45, 10, 100),
    ).toBeCloseTo(0.025, 10);
    expect(learningRateAt({ ...base, schedule: 'cosine' }, 0, 10, 100)).toBeCloseTo(0.1, 10);
    expect(learningRateAt({ ...base, schedule: 'cosine' }, 50, 10, 100)).toBeCloseTo(
      0.1 * (0.01 + 0.99 * 0.5),
      10,
    );
    expect(learningRateAt({ ...base, schedule: 'cosine' }, 100, 10, 100)).toBeCloseTo(0.001, 10);
    expect(
      learningRateAt({ ...base, schedule: 'constant', warmupSteps: 4 }, 1, 10, 100),
    ).toBeCloseTo(0.05, 10);
    expect(defaultPerClass(125, 5)).toBe(25);
    expect(defaultPerClass(128, 5)).toBe(32);
    expect(defaultPerClass(128, 100)).toBe(4);
  });
});
