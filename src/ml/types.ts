/**
 * Contracts shared by the pieces of the ML core (data, models, losses, attacks, defences, metrics).
 * Nothing here imports Nest: the core runs the same in worker threads, the CLI and tests.
 */
import type * as tf from '@tensorflow/tfjs';

/** Images as NHWC float32 in [0,1], with integer class labels. */
export interface ImageSet {
  /** N*H*W*C pixels in [0,1], row-major NHWC. */
  images: Float32Array;
  labels: Int32Array;
  /** [height, width, channels] of one image. */
  shape: [number, number, number];
  /** Optional human-readable class names, indexed by label. */
  classNames?: string[];
}

/** A class-disjoint split as the DML protocol uses it, plus a validation split of the training classes. */
export interface DatasetSplit {
  name: string;
  train: ImageSet;
  /** Held-out images of the training classes, for early stopping. May be empty. */
  validation: ImageSet;
  /** Images of the classes never seen in training: queries and gallery for evaluation. */
  test: ImageSet;
  /** Recorded in the model manifest so a result can be traced back to its data. */
  description: SplitDescription;
}

export interface SplitDescription {
  dataset: string;
  seed: number;
  trainClasses: number[];
  testClasses: number[];
  counts: { train: number; validation: number; test: number };
  /** [height, width, channels] of every image in the split. */
  imageShape?: [number, number, number];
  /** Share of the training-class images held out for validation. */
  validationFraction?: number;
  /** The training classes held out whole for validation (--validation-classes), instead of a share. */
  validationClasses?: number[];
  /** Unreadable files skipped (only when the loader was asked to skip instead of failing). */
  skipped?: number;
  /** Subset limits applied (fast runs and tests). */
  limits?: { maxTrain?: number; maxValidation?: number; maxTest?: number };
}

/** A metric-learning loss over a batch: embeddings [B, D] (L2-normalised) and labels [B]. */
export type BatchLoss = (embeddings: tf.Tensor2D, labels: tf.Tensor1D) => tf.Scalar;

/** Anything that maps images [B,H,W,C] to L2-normalised embeddings [B,D]. */
export interface Embedder {
  inputShape: [number, number, number];
  embeddingDim: number;
  /** training=false: inference mode (batch norm uses moving statistics). */
  embed(images: tf.Tensor4D, training?: boolean): tf.Tensor2D;
}

/** Progress events of long work (training, attacks, re-embedding), shown by the CLI and stored by the service. */
export interface ProgressEvent {
  phase: string;
  epoch?: number;
  epochs?: number;
  step: number;
  totalSteps: number;
  loss?: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  message?: string;
  /** phase 'checkpoint': where the checkpoint just written lets a run continue. */
  checkpoint?: TrainingPosition;
  /** phase 'resume': where this run continues (null: no checkpoint, it starts from step 0). */
  resumedFrom?: TrainingPosition | null;
}

/** A point of a training run, as a checkpoint holds it. */
export interface TrainingPosition {
  /** The epoch (from 1) the next step belongs to. */
  epoch: number;
  /** Steps of that epoch already done. */
  stepInEpoch: number;
  /** Steps done in all. */
  globalStep: number;
  /** When the checkpoint was written (ISO 8601). */
  writtenAt: string | null;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** One mini-batch handed to a training objective. */
export interface TrainingBatch {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  /**
   * Leading rows that carry class labels; the rows after them are instance-term views labelled by
   * instance (their labels overlap the class labels, so defences must not mine across the two).
   * Absent: every row is a class row.
   */
  classRows?: number;
}

export interface DefenseContext {
  embedder: Embedder;
  /** The configured metric loss (triplet, contrastive, ...). */
  loss: BatchLoss;
  batch: TrainingBatch;
  /** Global step, for schedules such as HM's gradual adversary. */
  step: number;
}

/**
 * A training objective, natural or robust. The trainer calls `craft` outside the gradient tape (so no
 * gradient flows through the attack), then `objective` inside it, then disposes what `craft` returned.
 */
export interface Defense {
  readonly name: string;
  /** Recorded in the model manifest (eps, steps, step size, weights, ...). */
  readonly config: Record<string, unknown>;
  /** Crafts adversarial inputs with the model in inference mode. `[]` for natural training. */
  craft(ctx: DefenseContext): tf.Tensor[];
  /** The scalar to minimise, built inside the tape from the batch and the crafted tensors. */
  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar;
  /** The robust defences' inner maximisation (absent: natural training, or a defence that needs no trainer help). */
  readonly inner?: InnerMaximisation;
}

/**
 * A robust defence's inner maximisation as the trainer sees it (src/ml/defenses/inner.ts). Free training
 * needs the trainer to replay each batch and to differentiate the perturbed input in the weights' own
 * backward pass; fast and free runs get a catastrophic-overfitting check after each epoch.
 */
export interface InnerMaximisation {
  /** The method in use: after a catastrophic-overfitting fallback, 'pgd'. */
  readonly method: 'pgd' | 'fast' | 'free';
  /** The training budget (L-inf), which the overfitting check attacks at. */
  readonly eps: number;
  /** Optimizer steps per batch: free's m replays, 1 otherwise. */
  readonly replays: number;
  /** fast, free: what to do when the overfitting check fires; null for pgd. */
  readonly onOverfit: 'warn' | 'stop' | 'fallback' | null;
  /** free: the perturbed input the last `craft` returned, a variable to differentiate; null otherwise. */
  freeInput(): tf.Variable | null;
  /** free: one ascent step of the perturbation on that input's gradient (null: it got none). */
  ascend(gradient: tf.Tensor | null): void;
  /** Runs PGD for the rest of the run (the catastrophic-overfitting fallback), from after `epoch`. */
  fallBackToPgd(epoch: number): void;
  /** Frees what it carries from step to step (free's perturbation). */
  dispose(): void;
}
