import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  loadNamedTensors,
  MANIFEST_FILE,
  saveModel,
  saveNamedTensors,
  writeFileAtomic,
} from '../model-store';
import type { EmbeddingModel } from '../models';
import type { TrainingPosition } from '../types';
import type { TrainingConfig } from './config';
import type { RobustCheck } from './overfit';
import type { AdamState } from './adam';

export const CHECKPOINT_DIR = 'checkpoint';
/** A checkpoint being written; it replaces CHECKPOINT_DIR only once complete. */
const NEXT_DIR = `${CHECKPOINT_DIR}.next`;
/** The replaced checkpoint, for the moment of the swap. */
const PREVIOUS_DIR = `${CHECKPOINT_DIR}.previous`;
/** The best validation epoch's model, inside the checkpoint. */
export const BEST_DIR = 'best';
const STATE_FILE = 'state.json';
const OPTIMIZER = 'optimizer';
/** Adam's running powers of beta1 and beta2, saved as they are (setWeights would recompute them). */
const ADAM_POWERS = 'adam-powers';

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
  /**
   * Steps done in the epoch after those (0 at an epoch's end). Absent in checkpoints written before
   * checkpoints within epochs: 0.
   */
  stepInEpoch?: number;
  globalStep: number;
  bestValidationRecallAt1: number | null;
  bestEpoch: number;
  history: EpochRecord[];
  lossVariables: number[];
  /** Within an epoch: the epoch's loss so far and the augmentation stream's position. */
  partialEpoch?: { lossSum: number; seconds: number; augmentRandomState: number };
  /** Position of the loss's own random stream (margin), if it has one. */
  lossRandomState?: number;
  /** ISO 8601. */
  writtenAt?: string;
  config: TrainingConfig;
}

export interface SaveCheckpointOptions {
  /** This state is the best validation epoch so far: its weights also become checkpoint/best. */
  newBest?: boolean;
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

/**
 * Saves model weights, Adam's state and the loop state into OUT/checkpoint. Written whole into
 * OUT/checkpoint.next first and swapped in by renames, so a process killed while writing leaves the
 * previous checkpoint (or the complete new one: see recoverCheckpoint), never a mix of the two.
 */
export async function saveCheckpoint(
  outDir: string,
  model: EmbeddingModel,
  optimizer: AdamState,
  lossVariables: tf.Variable[],
  state: Omit<CheckpointState, 'lossVariables' | 'writtenAt'>,
  options: SaveCheckpointOptions = {},
): Promise<CheckpointState> {
  const next = path.join(outDir, NEXT_DIR);
  await fs.rm(next, { recursive: true, force: true });
  await saveModel(next, model, { training: { ...state.config } });
  if (options.newBest)
    await saveModel(path.join(next, BEST_DIR), model, { training: { ...state.config } });
  const weights = await optimizer.getWeights();
  try {
    await saveNamedTensors(next, OPTIMIZER, weights);
  } finally {
    // getWeights returns fresh tensors: the step count and each variable's slice of the moments.
    weights.forEach((w) => w.tensor.dispose());
  }
  const powers = [tf.scalar(optimizer.accBeta1), tf.scalar(optimizer.accBeta2)];
  try {
    await saveNamedTensors(next, ADAM_POWERS, [
      { name: 'accBeta1', tensor: powers[0] },
      { name: 'accBeta2', tensor: powers[1] },
    ]);
  } finally {
    tf.dispose(powers);
  }
  const lossValues = await Promise.all(lossVariables.map(async (v) => (await v.data())[0]));
  const full: CheckpointState = {
    ...state,
    lossVariables: lossValues,
    writtenAt: new Date().toISOString(),
  };
  // Last: a checkpoint.next with its state file is complete.
  await writeFileAtomic(path.join(next, STATE_FILE), `${JSON.stringify(full, null, 2)}\n`);
  await swapIn(outDir);
  return full;
}

/** Replaces OUT/checkpoint by the complete OUT/checkpoint.next, carrying the best epoch's model over. */
async function swapIn(outDir: string): Promise<void> {
  const current = path.join(outDir, CHECKPOINT_DIR);
  const next = path.join(outDir, NEXT_DIR);
  const previous = path.join(outDir, PREVIOUS_DIR);
  if ((await exists(path.join(current, BEST_DIR))) && !(await exists(path.join(next, BEST_DIR)))) {
    await fs.rename(path.join(current, BEST_DIR), path.join(next, BEST_DIR));
  }
  await fs.rm(previous, { recursive: true, force: true });
  if (await exists(current)) await fs.rename(current, previous);
  await fs.rename(next, current);
  await fs.rm(previous, { recursive: true, force: true });
}

/**
 * Finishes or undoes a checkpoint write that a killed process left: a complete checkpoint.next is
 * the newest checkpoint and is swapped in; an incomplete one is dropped; a checkpoint moved aside
 * for a swap that never finished is put back.
 */
export async function recoverCheckpoint(outDir: string): Promise<void> {
  const next = path.join(outDir, NEXT_DIR);
  if (await exists(path.join(next, STATE_FILE))) await swapIn(outDir);
  else await fs.rm(next, { recursive: true, force: true });
  const current = path.join(outDir, CHECKPOINT_DIR);
  const previous = path.join(outDir, PREVIOUS_DIR);
  if (!(await exists(current)) && (await exists(previous))) await fs.rename(previous, current);
  await fs.rm(previous, { recursive: true, force: true });
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

/**
 * The checkpoint a run can continue from, after recoverCheckpoint: null when there is none. One
 * without its model manifest (an older layout interrupted mid-write) is removed.
 */
export async function openCheckpoint(outDir: string): Promise<CheckpointState | null> {
  await recoverCheckpoint(outDir);
  const state = await readCheckpointState(outDir);
  if (!state) return null;
  if (await exists(path.join(outDir, CHECKPOINT_DIR, MANIFEST_FILE))) return state;
  await fs.rm(path.join(outDir, CHECKPOINT_DIR), { recursive: true, force: true });
  return null;
}

/** Where a run continues from this checkpoint. */
export function checkpointPosition(state: CheckpointState): TrainingPosition {
  return {
    epoch: state.epoch + 1,
    stepInEpoch: state.stepInEpoch ?? 0,
    globalStep: state.globalStep,
    writtenAt: state.writtenAt ?? null,
  };
}

/** The line a resumed run logs: what it really continues from. */
export function describeResume(state: CheckpointState | null, epochs: number): string {
  if (!state) return 'no checkpoint yet: starting from step 0';
  const at = state.writtenAt ? `written at ${state.writtenAt}` : `of epoch ${state.epoch}`;
  if (state.epoch >= epochs)
    return `the checkpoint ${at} has all ${epochs} epochs: nothing left to train`;
  const position = checkpointPosition(state);
  return `resuming at epoch ${position.epoch} step ${position.stepInEpoch} (global step ${position.globalStep}) from the checkpoint ${at}`;
}

/**
 * Restores Adam's moments (by position: the variable list must be in the same order), its running
 * powers of beta1 and beta2, and the loss variables.
 */
export async function restoreOptimizer(
  outDir: string,
  optimizer: AdamState,
  lossVariables: tf.Variable[],
  state: CheckpointState,
): Promise<void> {
  const dir = path.join(outDir, CHECKPOINT_DIR);
  const weights = await loadNamedTensors(dir, OPTIMIZER);
  try {
    await optimizer.setWeights(weights);
  } finally {
    weights.forEach((w) => w.tensor.dispose());
  }
  if (await exists(path.join(dir, `${ADAM_POWERS}.json`))) {
    // setWeights recomputes them as beta^(t+1), which can differ in the last bit from the running
    // products an uninterrupted run holds.
    const saved = await loadNamedTensors(dir, ADAM_POWERS);
    const value = async (name: string) => {
      const tensor = saved.find((w) => w.name === name)?.tensor;
      return tensor ? (await tensor.data())[0] : undefined;
    };
    const [accBeta1, accBeta2] = [await value('accBeta1'), await value('accBeta2')];
    saved.forEach((w) => w.tensor.dispose());
    if (accBeta1 !== undefined && accBeta2 !== undefined) optimizer.setPowers(accBeta1, accBeta2);
  }
  lossVariables.forEach((v, i) => {
    // A variable the checkpoint has no value for keeps its own.
    if (state.lossVariables[i] === undefined) return;
    const value = tf.scalar(state.lossVariables[i]);
    v.assign(value);
    value.dispose();
  });
}
