import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createAdam, type AdamState } from './adam';
import { temporaryFolders } from '../../../test/support/folders';
import { smallMnistSplit } from '../../../test/support/training';
import type { DatasetSplit, ProgressEvent, TrainingPosition } from '../types';
import {
  CHECKPOINT_DIR,
  describeResume,
  readCheckpointState,
  recoverCheckpoint,
  restoreOptimizer,
  saveCheckpoint,
  type CheckpointState,
} from './checkpoint';
import { resolveTrainingConfig } from './config';
import { createEmbeddingModel } from '../models';
import { trainEmbeddingModel, type TrainingResult } from './trainer';

let split: DatasetSplit;

/**
 * Deterministic and small, but with every kind of state a resume must carry: the margin loss (a
 * trainable beta and its own random stream), augmentation (a random stream per epoch), a cosine
 * schedule, Adam, two epochs with validation.
 */
const tiny = {
  dataset: 'mnist',
  embeddingDim: 8,
  batchSize: 20,
  perClass: 4,
  stepsPerEpoch: 5,
  epochs: 2,
  seed: 3,
  loss: 'margin',
  augmentation: { maxShift: 2, horizontalFlip: false, maxRotation: 10 },
  checkpointEverySteps: 2,
};

const tempDir = temporaryFolders('checkpoint-');

beforeAll(async () => {
  split = await smallMnistSplit();
});

class Killed extends Error {}

/** Trains until the step `killAt` is done, then dies as a killed process would: no last write. */
async function killedAt(outDir: string, killAt: number): Promise<void> {
  await expect(
    trainEmbeddingModel(
      { ...tiny, outDir },
      {
        split,
        onProgress: (e) => {
          if (e.phase === 'train' && e.step === killAt) throw new Killed();
        },
      },
    ),
  ).rejects.toBeInstanceOf(Killed);
}

/** What two runs must agree on (timings aside). */
function outcome(result: TrainingResult) {
  return {
    weights: result.manifest.weightsSha256,
    metrics: result.metrics,
    history: result.history.map(({ epoch, loss, learningRate, validationRecallAt1 }) => ({
      epoch,
      loss,
      learningRate,
      validationRecallAt1,
    })),
  };
}

describe('checkpoints within epochs', () => {
  let uninterrupted: TrainingResult;
  const checkpoints: TrainingPosition[] = [];

  beforeAll(async () => {
    uninterrupted = await trainEmbeddingModel(
      { ...tiny, outDir: await tempDir() },
      {
        split,
        onProgress: (e) => e.phase === 'checkpoint' && checkpoints.push(e.checkpoint!),
      },
    );
  });

  it('are written every N steps within an epoch and at its end', () => {
    expect(checkpoints.map((c) => [c.epoch, c.stepInEpoch, c.globalStep])).toEqual([
      [1, 2, 2],
      [1, 4, 4],
      [2, 0, 5], // epoch 1's end
      [2, 2, 7],
      [2, 4, 9],
      [3, 0, 10],
    ]);
    expect(checkpoints.every((c) => !Number.isNaN(Date.parse(c.writtenAt ?? '')))).toBe(true);
  });

  it('let a run killed mid-epoch resume at the step checkpointed and end as the uninterrupted run', async () => {
    const outDir = await tempDir();
    await killedAt(outDir, 3); // after the checkpoint at step 2, before the one at step 4
    const state = await readCheckpointState(outDir);
    expect(state).toMatchObject({ epoch: 0, stepInEpoch: 2, globalStep: 2 });
    expect(state?.lossRandomState).toEqual(expect.any(Number));
    expect(state?.partialEpoch?.augmentRandomState).toEqual(expect.any(Number));

    const events: ProgressEvent[] = [];
    const resumed = await trainEmbeddingModel(
      { ...tiny, outDir, resume: true },
      { split, onProgress: (e) => events.push(e) },
    );
    const resume = events.find((e) => e.phase === 'resume');
    expect(resume?.message).toBe(
      `resuming at epoch 1 step 2 (global step 2) from the checkpoint written at ${state?.writtenAt}`,
    );
    expect(resumed.resumedFrom).toEqual({
      epoch: 1,
      stepInEpoch: 2,
      globalStep: 2,
      writtenAt: state?.writtenAt,
    });
    expect(events.filter((e) => e.phase === 'train').map((e) => e.step)).toEqual([
      3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(outcome(resumed)).toEqual(outcome(uninterrupted));
  });

  it('survive a kill in the second epoch too (validation and best epoch come from the checkpoint)', async () => {
    const outDir = await tempDir();
    await killedAt(outDir, 8);
    expect(await readCheckpointState(outDir)).toMatchObject({
      epoch: 1,
      stepInEpoch: 2,
      globalStep: 7,
    });
    const resumed = await trainEmbeddingModel({ ...tiny, outDir, resume: true }, { split });
    expect(resumed.resumedFrom).toMatchObject({ epoch: 2, stepInEpoch: 2, globalStep: 7 });
    expect(outcome(resumed)).toEqual(outcome(uninterrupted));
  });

  it('are written at the step a cancel stops at, and a resume continues from there', async () => {
    const outDir = await tempDir();
    const controller = new AbortController();
    await expect(
      trainEmbeddingModel(
        { ...tiny, outDir },
        {
          split,
          signal: controller.signal,
          onProgress: (e) => e.phase === 'train' && e.step === 3 && controller.abort(),
        },
      ),
    ).rejects.toThrow('training cancelled');
    expect(await readCheckpointState(outDir)).toMatchObject({ stepInEpoch: 3, globalStep: 3 });
    const resumed = await trainEmbeddingModel({ ...tiny, outDir, resume: true }, { split });
    expect(resumed.resumedFrom).toMatchObject({ epoch: 1, stepInEpoch: 3, globalStep: 3 });
    expect(outcome(resumed)).toEqual(outcome(uninterrupted));
  });

  it('are also written after M minutes, whichever of steps and minutes comes first', async () => {
    const positions: number[] = [];
    await trainEmbeddingModel(
      {
        ...tiny,
        epochs: 1,
        checkpointEverySteps: 1000,
        // Shorter than any step: the time rule fires before every step after the first.
        checkpointEveryMinutes: 1e-9,
        outDir: await tempDir(),
      },
      {
        split,
        onProgress: (e) => e.phase === 'checkpoint' && positions.push(e.checkpoint!.globalStep),
      },
    );
    expect(positions).toEqual([1, 2, 3, 4, 5]);
  });

  it('say so when there is none: resume then starts from step 0', async () => {
    const events: ProgressEvent[] = [];
    const result = await trainEmbeddingModel(
      { ...tiny, epochs: 1, stepsPerEpoch: 2, outDir: await tempDir(), resume: true },
      { split, onProgress: (e) => events.push(e) },
    );
    expect(events.find((e) => e.phase === 'resume')).toMatchObject({
      message: 'no checkpoint yet: starting from step 0',
      resumedFrom: null,
    });
    expect(result.resumedFrom).toBeNull();
    expect(events.filter((e) => e.phase === 'train').map((e) => e.step)).toEqual([1, 2]);
  });

  it('reject bad intervals before any work', async () => {
    await expect(
      trainEmbeddingModel({ ...tiny, checkpointEverySteps: 0, outDir: 'x' }),
    ).rejects.toThrow('checkpointEverySteps must be a positive integer (got 0)');
    await expect(
      trainEmbeddingModel({ ...tiny, checkpointEveryMinutes: -1, outDir: 'x' }),
    ).rejects.toThrow('checkpointEveryMinutes must be a number > 0 (got -1)');
  });
});

describe('saveCheckpoint / restoreOptimizer', () => {
  it.each([
    ["tfjs's Adam (the CPU backends')", false],
    ['the fused flat Adam (webgpu)', true],
  ])(
    'round-trips %s moments, step count and running beta powers, and the loss variables',
    async (_, fused) => {
      const outDir = await tempDir();
      const model = await createEmbeddingModel({
        backbone: 'small-cnn',
        inputShape: [28, 28, 1],
        embeddingDim: 4,
        seed: 1,
      });
      const beta = tf.variable(tf.scalar(1.2), true, 'round_trip_beta');
      const variables = [...model.trainableVariables, beta];
      const adam = createAdam({ learningRate: 0.01, fused });
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () =>
            tf.add(
              tf.sum(model.embed(tf.ones([2, 28, 28, 1]), true)),
              tf.square(beta),
            ) as tf.Scalar,
          variables,
        );
        adam.applyGradients(grads);
        tf.dispose([value, ...Object.values(grads)]);
      };
      for (let i = 0; i < 3; i++) step();
      const config = resolveTrainingConfig({ dataset: 'mnist', outDir });
      await saveCheckpoint(outDir, model, adam, [beta], {
        epoch: 0,
        stepInEpoch: 3,
        globalStep: 3,
        bestValidationRecallAt1: null,
        bestEpoch: -1,
        history: [],
        config,
      });
      const state = (await readCheckpointState(outDir)) as CheckpointState;
      const restored = createAdam({ learningRate: 0.01, fused });
      const beta2 = tf.variable(tf.scalar(0), true, 'round_trip_beta_2');
      await restoreOptimizer(outDir, restored, [beta2], state);

      const values = async (optimizer: AdamState) => {
        const weights = await optimizer.getWeights();
        const read = await Promise.all(weights.map(async (w) => Array.from(await w.tensor.data())));
        weights.forEach((w) => w.tensor.dispose());
        return read;
      };
      // Before any step, the restored optimizer holds the saved moments (a checkpoint written then keeps them).
      const savedValues = await values(adam);
      expect(savedValues).toHaveLength(1 + 2 * variables.length);
      expect(await values(restored)).toEqual(savedValues);
      expect(restored.iterations).toBe(3);
      expect([restored.accBeta1, restored.accBeta2]).toEqual([adam.accBeta1, adam.accBeta2]);
      expect(beta2.dataSync()[0]).toBe(beta.dataSync()[0]);
      tf.dispose([beta, beta2]);
      adam.dispose();
      restored.dispose();
      model.dispose();
    },
  );
});

describe('recoverCheckpoint (a process killed while writing one)', () => {
  const write = async (dir: string, globalStep: number, complete = true) => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'weights.bin'), String(globalStep));
    if (complete) await fs.writeFile(path.join(dir, 'state.json'), JSON.stringify({ globalStep }));
  };
  const stepOf = async (outDir: string) => (await readCheckpointState(outDir))?.globalStep;
  const listing = (outDir: string) => fs.readdir(outDir).then((names) => names.sort());

  it('drops a half-written new checkpoint and keeps the last complete one', async () => {
    const outDir = await tempDir();
    await write(path.join(outDir, CHECKPOINT_DIR), 4);
    await write(path.join(outDir, `${CHECKPOINT_DIR}.next`), 6, false);
    await recoverCheckpoint(outDir);
    expect(await stepOf(outDir)).toBe(4);
    expect(await listing(outDir)).toEqual([CHECKPOINT_DIR]);
  });

  it('finishes a swap stopped half way: the complete new checkpoint wins, the best model moves with it', async () => {
    const outDir = await tempDir();
    await write(path.join(outDir, `${CHECKPOINT_DIR}.previous`), 4);
    await write(path.join(outDir, `${CHECKPOINT_DIR}.next`), 6);
    await write(path.join(outDir, `${CHECKPOINT_DIR}.next`, 'best'), 5);
    await recoverCheckpoint(outDir);
    expect(await stepOf(outDir)).toBe(6);
    expect(
      await fs.readFile(path.join(outDir, CHECKPOINT_DIR, 'best', 'weights.bin'), 'utf8'),
    ).toBe('5');
    expect(await listing(outDir)).toEqual([CHECKPOINT_DIR]);
  });

  it('puts back a checkpoint moved aside when the new one is not complete', async () => {
    const outDir = await tempDir();
    await write(path.join(outDir, `${CHECKPOINT_DIR}.previous`), 4);
    await write(path.join(outDir, `${CHECKPOINT_DIR}.next`), 6, false);
    await recoverCheckpoint(outDir);
    expect(await stepOf(outDir)).toBe(4);
    expect(await listing(outDir)).toEqual([CHECKPOINT_DIR]);
  });

  it('carries the best model over when a complete new checkpoint has none of its own', async () => {
    const outDir = await tempDir();
    await write(path.join(outDir, CHECKPOINT_DIR), 4);
    await write(path.join(outDir, CHECKPOINT_DIR, 'best'), 3);
    await write(path.join(outDir, `${CHECKPOINT_DIR}.next`), 6);
    await recoverCheckpoint(outDir);
    expect(await stepOf(outDir)).toBe(6);
    expect(
      await fs.readFile(path.join(outDir, CHECKPOINT_DIR, 'best', 'weights.bin'), 'utf8'),
    ).toBe('3');
  });
});

describe('describeResume', () => {
  const state = (epoch: number, stepInEpoch?: number, writtenAt?: string) =>
    ({
      epoch,
      stepInEpoch,
      globalStep: epoch * 10 + (stepInEpoch ?? 0),
      writtenAt,
    }) as CheckpointState;

  it('says where a run continues, or that it starts over', () => {
    expect(describeResume(null, 3)).toBe('no checkpoint yet: starting from step 0');
    expect(describeResume(state(1, 4, '2026-01-02T03:04:05.000Z'), 3)).toBe(
      'resuming at epoch 2 step 4 (global step 14) from the checkpoint written at 2026-01-02T03:04:05.000Z',
    );
    // Written before checkpoints carried a step and a time: an epoch's end.
    expect(describeResume(state(2), 3)).toBe(
      'resuming at epoch 3 step 0 (global step 20) from the checkpoint of epoch 2',
    );
    expect(describeResume(state(3, 0, '2026-01-02T03:04:05.000Z'), 3)).toBe(
      'the checkpoint written at 2026-01-02T03:04:05.000Z has all 3 epochs: nothing left to train',
    );
  });
});
