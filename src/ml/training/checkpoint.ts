import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadNamedTensors, saveModel, saveNamedTensors, writeFileAtomic } from '../model-store';
import type { EmbeddingModel } from '../models';
import type { TrainingConfig } from './config';
import type { RobustCheck } from './overfit';

export const CHECKPOINT_DIR = 'checkpoint';
const STATE_FILE = 'state.json';
const OPTIMIZER = 'optimizer';

export interface EpochRecord {
  epoch: number;
  loss: number;
  learningRate: number;
  validationRecallAt1: number | null;
  imagesPerSecond: number;
  seconds: number;
  /** fast and free training: the catastrophic-overfitting check after this epoch (overfit.ts). */
  robustCheck?: RobustCheck;
}

/** What a resumed run needs besides the weights and the optimizer state. */
export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  globalStep: number;
  bestValidationRecallAt1: number | null;
  bestEpoch: number;
  history: EpochRecord[];
  lossVariables: number[];
  config: TrainingConfig;
}

/** Saves model weights, Adam's moments and the loop state after an epoch, into OUT/checkpoint. */
export async function saveCheckpoint(
  outDir: string,
  model: EmbeddingModel,
  optimizer: tf.Optimizer,
  lossVariables: tf.Variable[],
  state: Omit<CheckpointState, 'lossVariables'>,
): Promise<void> {
  const dir = path.join(outDir, CHECKPOINT_DIR);
  await saveModel(dir, model, { training: { ...state.config } });
  const weights = await optimizer.getWeights();
  try {
    await saveNamedTensors(dir, OPTIMIZER, weights);
  } finally {
    // getWeights returns the optimizer's own variables, plus a fresh scalar for the iteration count.
    weights.filter((w) => !(w.tensor instanceof tf.Variable)).forEach((w) => w.tensor.dispose());
  }
  const full: CheckpointState = {
    ...state,
    lossVariables: lossVariables.map((v) => v.dataSync()[0]),
  };
  await writeFileAtomic(path.join(dir, STATE_FILE), `${JSON.stringify(full, null, 2)}\n`);
}

export async function readCheckpointState(outDir: string): Promise<CheckpointState | null> {
  try {
    return JSON.parse(
      await fs.readFile(path.join(outDir, CHECKPOINT_DIR, STATE_FILE), 'utf8'),
    ) as CheckpointState;
  } catch {
    return null;
  }
}

/** Restores Adam's moments (by position: the variable list must be in the same order) and loss variables. */
export async function restoreOptimizer(
  outDir: string,
  optimizer: tf.Optimizer,
  lossVariables: tf.Variable[],
  state: CheckpointState,
): Promise<void> {
  const weights = await loadNamedTensors(path.join(outDir, CHECKPOINT_DIR), OPTIMIZER);
  await optimizer.setWeights(weights);
  weights.forEach((w) => w.tensor.dispose());
  lossVariables.forEach((v, i) => v.assign(tf.scalar(state.lossVariables[i] ?? v.dataSync()[0])));
}
