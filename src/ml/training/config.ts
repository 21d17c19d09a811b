import type { AugmentationConfig } from '../data/augment';
import { trainingClassCount } from '../data/datasets';
import { checkValidationClasses } from '../data/split';
import { checkTrainBackbone, type BackboneName } from '../models';
import {
  DEFENSE_NAMES,
  resolveDefenseOptions,
  resolveInnerOptions,
  type DefenseName,
  type InnerName,
  type OverfitAction,
} from '../defenses/options';
import { checkLossOptions } from '../losses';
import { validateInstanceTerm, type InstanceTermConfig } from './instance-term';
import type { LrSchedule } from './schedule';

/** Everything a training run needs; stored in the manifest, so a run can be reproduced from it. */
export interface TrainingConfig {
  dataset: string;
  backbone: BackboneName;
  /** Image size for decoded data sets (folder:, iconify, emoji); MNIST/IDX keep theirs. */
  imageSize?: number;
  /** mobilenetv2*: train the pretrained backbone as well as the head (default: the head only). */
  trainBackbone?: boolean;
  embeddingDim: number;
  loss: string;
  lossOptions?: Record<string, number>;
  defense: string;
  defenseOptions?: Record<string, number>;
  /**
   * The defence's inner maximisation: `pgd` (default), `fast` or `free` (src/ml/defenses/inner.ts);
   * free replays each batch `freeReplays` times; `onOverfit` acts on the catastrophic-overfitting check.
   */
  inner?: InnerName;
  freeReplays?: number;
  onOverfit?: OverfitAction;
  epochs: number;
  batchSize: number;
  /** Images per class in a batch (m). Default: as many classes per batch as fit with m >= 4. */
  perClass?: number;
  learningRate: number;
  schedule: LrSchedule;
  warmupSteps?: number;
  seed: number;
  /** The model version is written here; checkpoints go to OUT/checkpoint. */
  outDir: string;
  resume?: boolean;
  /**
   * Start from this model version's weights (fine-tuning, e.g. robust training of a natural model)
   * instead of a fresh initialisation; its backbone, input shape and embedding size must match.
   * A fresh optimizer and schedule start with it. Ignored when resuming from a checkpoint.
   */
  initFrom?: string;
  maxTrain?: number;
  maxValidation?: number;
  maxTest?: number;
  validationFraction?: number;
  /**
   * Hold out this many whole training classes for validation (early stopping, the best epoch) instead of
   * a share of every class's images: epochs and settings are then chosen on classes the model never
   * trained on, as the test classes are (at least 2; at least 2 must remain to train on).
   */
  validationClasses?: number;
  /** Stop after this many epochs without a better validation R@1 (0 = never stop early). */
  patience?: number;
  /** Steps per epoch (default: train images / batch size). */
  stepsPerEpoch?: number;
  augmentation?: AugmentationConfig;
  /**
   * Data-parallel training: gradient worker threads (one wasm backend each) and shards per batch
   * (default: the worker count). Unset or 1 worker with 1 shard trains in the calling thread.
   */
  workers?: number;
  shards?: number;
  /** Self-supervised instance discrimination beside the class loss (see instance-term.ts). Off when absent. */
  instanceTerm?: InstanceTermConfig;
  /**
   * Checkpoint within an epoch after this many steps since the last checkpoint, or after
   * `checkpointEveryMinutes`, whichever comes first (and always at an epoch's end), so that a killed
   * run loses minutes, not an epoch.
   */
  checkpointEverySteps?: number;
  checkpointEveryMinutes?: number;
}

/** Checkpoints within an epoch: every 500 steps or 2 minutes, whichever comes first. */
export const CHECKPOINT_DEFAULTS = { everySteps: 500, everyMinutes: 2 };

/**
 * Defences that keep instance-term views apart from the class rows: panum mines its triplets on the
 * class rows only; EST perturbs each image on its own and trains the same (class + instance) loss on
 * the perturbed batch. The others mine across the overlapping class and instance labels.
 */
const DEFENSES_WITH_INSTANCE_TERM = ['none', 'panum', 'est'];

export const TRAINING_DEFAULTS = {
  backbone: 'small-cnn' as BackboneName,
  embeddingDim: 128,
  loss: 'triplet',
  defense: 'none',
  epochs: 5,
  batchSize: 128,
  learningRate: 1e-3,
  schedule: 'cosine' as LrSchedule,
  seed: 0,
  patience: 0,
};

/** Fills defaults and rejects impossible values before any work starts. */
export function resolveTrainingConfig(
  input: Partial<TrainingConfig> & { dataset: string; outDir: string },
): TrainingConfig {
  const config = { ...TRAINING_DEFAULTS, ...dropUndefined(input) } as TrainingConfig;
  checkTrainingConfig(config);
  return config;
}

/**
 * The rules of a training run that need no data, in one place: `rir train` (before a worker starts),
 * a training job's request (before it is queued; it has no output directory yet) and the trainer all
 * call this. Defaults are those of resolveTrainingConfig.
 */
export function checkTrainingConfig(input: Partial<TrainingConfig> & { dataset: string }): void {
  const config = { ...TRAINING_DEFAULTS, ...dropUndefined(input) } as Omit<
    TrainingConfig,
    'outDir'
  >;
  const positiveInt = (name: keyof typeof config) => {
    const value = config[name];
    if (!Number.isInteger(value) || (value as number) < 1)
      throw new Error(`${name} must be a positive integer (got ${String(value)})`);
  };
  positiveInt('epochs');
  positiveInt('batchSize');
  if (config.perClass !== undefined) positiveInt('perClass');
  positiveInt('embeddingDim');
  if (config.stepsPerEpoch !== undefined) positiveInt('stepsPerEpoch');
  if (config.workers !== undefined) positiveInt('workers');
  if (config.shards !== undefined) positiveInt('shards');
  if (config.checkpointEverySteps !== undefined) positiveInt('checkpointEverySteps');
  if (config.validationClasses !== undefined) checkValidationClasses(config.validationClasses);
  const minutes = config.checkpointEveryMinutes;
  if (minutes !== undefined && !(Number.isFinite(minutes) && minutes > 0))
    throw new Error(`checkpointEveryMinutes must be a number > 0 (got ${String(minutes)})`);
  if (!(config.learningRate > 0))
    throw new Error(`learning rate must be > 0 (got ${config.learningRate})`);
  checkTrainBackbone(config.backbone, config.trainBackbone);
  if (config.perClass !== undefined && config.batchSize < config.perClass) {
    throw new Error(
      `batchSize ${config.batchSize} is smaller than the sampler's per-class m (perClass ${config.perClass})`,
    );
  }
  if (config.perClass !== undefined && config.batchSize % config.perClass !== 0) {
    throw new Error(
      `batchSize ${config.batchSize} must be a multiple of perClass ${config.perClass} (m images per class per batch)`,
    );
  }
  if (config.lossOptions) checkLossOptions(config.loss, config.lossOptions);
  if (!(DEFENSE_NAMES as readonly string[]).includes(config.defense))
    throw new Error(
      `unknown defence '${config.defense}': known defences are ${DEFENSE_NAMES.join(', ')}`,
    );
  if (config.instanceTerm !== undefined) {
    validateInstanceTerm(config.instanceTerm, config.batchSize, config.augmentation);
    if (!DEFENSES_WITH_INSTANCE_TERM.includes(config.defense)) {
      throw new Error(
        `the instance term trains with --defense ${DEFENSES_WITH_INSTANCE_TERM.join(', ')} only (got --defense ${config.defense})`,
      );
    }
    if ((config.workers ?? 1) > 1 || (config.shards ?? 1) > 1) {
      throw new Error('the instance term trains in one thread (drop --workers / --shards)');
    }
  }
  // The defence's budget and inner maximisation (a defence without one only checks that none is set).
  const inner =
    config.defense === 'none'
      ? resolveInnerOptions(config.defense, config)
      : resolveDefenseOptions(config.defense as DefenseName, {
          ...config.defenseOptions,
          inner: config.inner,
          freeReplays: config.freeReplays,
          onOverfit: config.onOverfit,
        }).inner;
  if (inner.method !== 'pgd' && ((config.workers ?? 1) > 1 || (config.shards ?? 1) > 1)) {
    throw new Error(`inner ${inner.method} trains in one thread (drop --workers / --shards)`);
  }
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The default m of the m-per-class sampler: the most classes per batch (at most batchSize / 4, at most
 * the number of classes) that divide the batch size evenly.
 */
export function defaultPerClass(batchSize: number, classes: number): number {
  for (let c = Math.min(classes, Math.floor(batchSize / 4)); c >= 1; c--) {
    if (batchSize % c === 0) return batchSize / c;
  }
  throw new Error(
    `batch size ${batchSize} is too small for m-per-class batches (need at least 8 images)`,
  );
}

/**
 * The one rule on batches and classes: the m-per-class sampler fills a batch with batchSize / perClass
 * classes of perClass images each, so a data set with fewer training classes can never give a batch.
 * The API (at submission), `rir train` (before a worker starts) and the trainer all check it here.
 * `dataset` is the data set as the user named it.
 */
export function checkClassesPerBatch(
  batchSize: number,
  perClass: number,
  trainingClasses: number,
  dataset: string,
): void {
  const needed = Math.ceil(batchSize / perClass);
  if (trainingClasses < needed) {
    throw new Error(
      `batch ${batchSize} with ${perClass} per class needs ${needed} classes; ${dataset} has ${trainingClasses} training class${trainingClasses === 1 ? '' : 'es'}`,
    );
  }
}

/**
 * checkClassesPerBatch before any data is decoded, with the training classes counted from the data
 * set's listing (trainingClassCount). Without perClass there is nothing to check: the default m
 * (defaultPerClass) always fits. Data sets whose classes are only known once rendered pass here and are
 * checked by the trainer.
 */
export async function checkTrainingData(
  config: { dataset: string; batchSize: number; perClass?: number },
  datasetName = config.dataset,
): Promise<void> {
  if (config.perClass === undefined) return;
  const classes = await trainingClassCount(config.dataset);
  if (classes !== null)
    checkClassesPerBatch(config.batchSize, config.perClass, classes, datasetName);
}
