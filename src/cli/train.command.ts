/**
 * `rir train`: trains an embedding model in a worker thread, with a progress bar on a terminal;
 * the result (manifest, metrics) as JSON with --json. Ctrl-C cancels at the next step (resume later).
 */
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { BACKBONES, backboneChannels, type BackboneName } from '../ml/models';
import { DEFENSE_NAMES, isDefenseName } from '../ml/defenses';
import {
  DEFAULT_FREE_REPLAYS,
  DEFAULT_OVERFIT_ACTION,
  INNER_NAMES,
  OVERFIT_ACTIONS,
} from '../ml/defenses/options';
import { checkLossOptions, LOSS_NAMES } from '../ml/losses';
import {
  CHECKPOINT_DEFAULTS,
  checkTrainingData,
  resolveTrainingConfig,
  runTrainingInWorker,
  type TrainingConfig,
  type TrainingResult,
} from '../ml/training';
import type { ProgressEvent } from '../ml/types';
import { manifestInFractions, percentToFraction, scaleHistory } from '../ml/robustness/units';
import { validateAugmentation, type AugmentationConfig } from '../ml/data/augment';

const number = (name: string, integer: boolean) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} (got '${text}')`);
  }
  return value;
};

interface TrainOptions {
  dataset: string;
  backbone: string;
  loss: string;
  defense: string;
  eps?: number;
  pgdSteps?: number;
  inner?: string;
  freeReplays?: number;
  onOverfit?: string;
  epochs: number;
  batchSize: number;
  perClass?: number;
  embeddingDim: number;
  imageSize?: number;
  trainBackbone?: boolean;
  lr: number;
  schedule: string;
  seed: number;
  out: string;
  resume?: boolean;
  init?: string;
  maxTrain?: number;
  maxTest?: number;
  maxValidation?: number;
  validationClasses?: number;
  stepsPerEpoch?: number;
  patience: number;
  augment?: boolean;
  augShift?: number;
  augRotation?: number;
  augScale?: number;
  augElastic?: number;
  lossOptions?: string;
  workers?: number;
  shards?: number;
  instanceWeight?: number;
  instances?: number;
  checkpointEverySteps?: number;
  checkpointEveryMinutes?: number;
  json?: boolean;
}

/** 'key=value,key=value' for the chosen loss; keys it does not read (LOSS_DEFAULTS) fail before any work. */
export function parseLossOptions(
  loss: string,
  text: string | undefined,
): Record<string, number> | undefined {
  if (text === undefined) return undefined;
  const result: Record<string, number> = {};
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [key, value, ...rest] = part.split('=').map((p) => p.trim());
    const number = Number(value);
    if (rest.length > 0 || value === undefined || value === '' || !Number.isFinite(number)) {
      throw new Error(`--loss-options expects key=number pairs (got '${part}')`);
    }
    result[key] = number;
  }
  try {
    checkLossOptions(loss, result);
  } catch (error) {
    throw new Error(`--loss-options: ${(error as Error).message}`);
  }
  return result;
}

function augmentationOf(options: TrainOptions): AugmentationConfig | undefined {
  const warps = [options.augRotation, options.augScale, options.augElastic];
  if (!options.augment && options.augShift === undefined && warps.every((v) => v === undefined)) {
    return undefined;
  }
  const config: AugmentationConfig = {
    maxShift:
      options.augShift ??
      (options.augment ? (backboneChannels(options.backbone as BackboneName) === 1 ? 2 : 4) : 0),
    horizontalFlip: false,
  };
  if (options.augRotation !== undefined) config.maxRotation = options.augRotation;
  if (options.augScale !== undefined) config.maxScale = options.augScale;
  if (options.augElastic !== undefined) config.elasticAlpha = options.augElastic;
  validateAugmentation(config);
  return config;
}

function instanceTermOf(options: TrainOptions): TrainingConfig['instanceTerm'] {
  if (options.instanceWeight === undefined) {
    if (options.instances !== undefined) throw new Error('--instances needs --instance-weight');
    return undefined;
  }
  // Default: a view pair for half the batch, so a step costs about twice a plain one.
  return {
    weight: options.instanceWeight,
    instances: options.instances ?? Math.floor(options.batchSize / 2),
  };
}

export function toTrainingConfig(
  options: TrainOptions,
): Partial<TrainingConfig> & { dataset: string; outDir: string } {
  if (!BACKBONES.includes(options.backbone as BackboneName)) {
    throw new Error(
      `--backbone must be one of ${BACKBONES.join(', ')} (got '${options.backbone}')`,
    );
  }
  if (!(LOSS_NAMES as readonly string[]).includes(options.loss)) {
    throw new Error(`--loss must be one of ${LOSS_NAMES.join(', ')} (got '${options.loss}')`);
  }
  const defenseOptions: Record<string, number> = {};
  if (options.eps !== undefined) defenseOptions.eps = options.eps;
  if (options.pgdSteps !== undefined) defenseOptions.steps = options.pgdSteps;
  // Bad names fail here with the flag's name; bad values in resolveTrainingConfig below, both before
  // the worker loads any data.
  if (!isDefenseName(options.defense)) {
    throw new Error(
      `--defense must be one of ${DEFENSE_NAMES.join(', ')} (got '${options.defense}')`,
    );
  }
  const config = {
    dataset: options.dataset,
    backbone: options.backbone as BackboneName,
    loss: options.loss,
    defense: options.defense,
    defenseOptions,
    inner: options.inner as TrainingConfig['inner'],
    freeReplays: options.freeReplays,
    onOverfit: options.onOverfit as TrainingConfig['onOverfit'],
    epochs: options.epochs,
    batchSize: options.batchSize,
    perClass: options.perClass,
    embeddingDim: options.embeddingDim,
    imageSize: options.imageSize,
    trainBackbone: options.trainBackbone,
    learningRate: options.lr,
    schedule: options.schedule as TrainingConfig['schedule'],
    seed: options.seed,
    outDir: options.out,
    resume: options.resume ?? false,
    initFrom: options.init,
    maxTrain: options.maxTrain,
    maxTest: options.maxTest,
    maxValidation: options.maxValidation,
    validationClasses: options.validationClasses,
    stepsPerEpoch: options.stepsPerEpoch,
    patience: options.patience,
    augmentation: augmentationOf(options),
    lossOptions: parseLossOptions(options.loss, options.lossOptions),
    workers: options.workers,
    shards: options.shards,
    instanceTerm: instanceTermOf(options),
    checkpointEverySteps: options.checkpointEverySteps,
    checkpointEveryMinutes: options.checkpointEveryMinutes,
  };
  resolveTrainingConfig(config);
  return config;
}

/** A progress bar on a terminal, a line per epoch otherwise (stderr, so --json stays clean on stdout). */
function progressReporter(): { onProgress: (event: ProgressEvent) => void; stop: () => void } {
  const bar = process.stderr.isTTY
    ? new SingleBar(
        {
          format:
            'epoch {epoch}/{epochs} |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | ETA {eta_formatted}',
          stream: process.stderr,
        },
        Presets.shades_classic,
      )
    : null;
  let started = false;
  return {
    onProgress: (event) => {
      if (event.phase === 'train' && bar) {
        const payload = {
          epoch: event.epoch,
          epochs: event.epochs,
          loss: event.loss?.toFixed(4),
          ips: Math.round(event.imagesPerSecond ?? 0),
        };
        if (!started) bar.start(event.totalSteps, event.step, payload);
        started = true;
        bar.update(event.step, payload);
      } else if (event.phase !== 'train' && event.message) {
        if (bar && started) bar.stop();
        started = false;
        process.stderr.write(`${event.message}\n`);
      }
    },
    stop: () => bar?.stop(),
  };
}

/**
 * The result as --json gives it: the epochs' robust checks (R@1 in percent in the checkpoint and the
 * manifest file) as fractions, like every rate in JSON.
 */
export function trainingResultJson(result: TrainingResult): Record<string, unknown> {
  return {
    ...result,
    manifest: manifestInFractions(result.manifest as unknown as Record<string, unknown>),
    history: scaleHistory(result.history, percentToFraction),
  };
}

function summary(result: TrainingResult): string {
  const m = result.metrics;
  return [
    `model ${result.manifest.id} written to ${result.outDir}`,
    `test classes: R@1 ${m.recallAt1.toFixed(4)}  R@2 ${m.recallAt2.toFixed(4)}  R@4 ${m.recallAt4.toFixed(4)}  R@8 ${m.recallAt8.toFixed(4)}`,
    `MAP@R ${m.mapAtR.toFixed(4)}  NMI ${m.nmi.toFixed(4)}  mean pairwise distance ${m.meanPairwiseDistance.toFixed(4)}`,
    `${result.imagesPerSecond.toFixed(1)} images/s, ${result.durationSeconds.toFixed(1)} s${result.stoppedEarly ? ' (stopped early)' : ''}`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('train')
    .description(
      'Train an embedding model with deep metric learning (optionally with a robust-training defence)',
    )
    .requiredOption(
      '--dataset <spec>',
      'mnist | mnist-all | iconify | emoji | idx:IMAGES,LABELS | folder:PATH',
    )
    .option('--backbone <name>', `${BACKBONES.join(' | ')}`, 'small-cnn')
    .option('--loss <name>', `${LOSS_NAMES.join(' | ')}`, 'triplet')
    .option('--defense <name>', `${DEFENSE_NAMES.join(' | ')}`, 'none')
    .option(
      '--eps <number>',
      'training perturbation budget (L-inf, pixels in [0,1])',
      number('--eps', false),
    )
    .option(
      '--pgd-steps <n>',
      'PGD steps of the defence inner maximisation',
      number('--pgd-steps', true),
    )
    .option(
      '--inner <method>',
      `the defence's inner maximisation: ${INNER_NAMES.join(' | ')} (fast: one step of 1.25 eps from a random start; free: each batch replayed, one backward pass per replay)`,
    )
    .option(
      '--free-replays <m>',
      `--inner free: replays per batch (default ${DEFAULT_FREE_REPLAYS}; an epoch keeps its step count)`,
      number('--free-replays', true),
    )
    .option(
      '--on-overfit <action>',
      `--inner fast|free, when the per-epoch catastrophic-overfitting check fires: ${OVERFIT_ACTIONS.join(' | ')} (default ${DEFAULT_OVERFIT_ACTION}: PGD for the remaining epochs)`,
    )
    .option('--epochs <n>', 'epochs', number('--epochs', true), 5)
    .option('--batch-size <n>', 'images per batch', number('--batch-size', true), 128)
    .option(
      '--per-class <m>',
      'images per class in a batch (default: most classes with m >= 4)',
      number('--per-class', true),
    )
    .option('--embedding-dim <n>', 'embedding dimension', number('--embedding-dim', true), 128)
    .option(
      '--image-size <px>',
      'input size for decoded data sets (folder:, iconify, emoji)',
      number('--image-size', true),
    )
    .option(
      '--train-backbone',
      'mobilenetv2*: train the pretrained backbone as well as the head (default: it stays frozen)',
    )
    .option('--lr <rate>', 'Adam learning rate', number('--lr', false), 1e-3)
    .option('--schedule <name>', 'constant | step | cosine', 'cosine')
    .option(
      '--seed <n>',
      'seed of the split, batches and initialisation',
      number('--seed', true),
      0,
    )
    .requiredOption('--out <dir>', 'directory of the model version (checkpoints in DIR/checkpoint)')
    .option(
      '--resume',
      'continue from DIR/checkpoint (at the step it was written; says where, or that there is none)',
    )
    .option(
      '--checkpoint-every-steps <n>',
      `checkpoint within an epoch after N steps (default ${CHECKPOINT_DEFAULTS.everySteps}; also at each epoch's end and on Ctrl-C)`,
      number('--checkpoint-every-steps', true),
    )
    .option(
      '--checkpoint-every-minutes <m>',
      `... or after M minutes, whichever comes first (default ${CHECKPOINT_DEFAULTS.everyMinutes})`,
      number('--checkpoint-every-minutes', false),
    )
    .option(
      '--init <model-dir>',
      'fine-tune: start from this model version (same backbone, input and embedding size) with a fresh optimizer',
    )
    .option(
      '--max-train <n>',
      'use at most N training images (fast runs)',
      number('--max-train', true),
    )
    .option('--max-test <n>', 'evaluate on at most N test images', number('--max-test', true))
    .option(
      '--max-validation <n>',
      'validate each epoch on at most N held-out training-class images (fast runs)',
      number('--max-validation', true),
    )
    .option(
      '--validation-classes <n>',
      'validate on N whole training classes held out (classes the model never trains on, as the test split) instead of 10% of every class',
      number('--validation-classes', true),
    )
    .option(
      '--steps-per-epoch <n>',
      'batches per epoch (default: training images / batch size)',
      number('--steps-per-epoch', true),
    )
    .option(
      '--patience <n>',
      'stop after N epochs without a better validation R@1 (0 = never)',
      number('--patience', true),
      0,
    )
    .option('--augment', 'random shifts during training (recorded in the manifest)')
    .option(
      '--aug-shift <px>',
      'augmentation: random shift up to N pixels',
      number('--aug-shift', true),
    )
    .option(
      '--aug-rotation <deg>',
      'augmentation: random rotation up to N degrees',
      number('--aug-rotation', false),
    )
    .option(
      '--aug-scale <s>',
      'augmentation: random scale in [1-s, 1+s]',
      number('--aug-scale', false),
    )
    .option(
      '--aug-elastic <px>',
      'augmentation: elastic distortion up to N pixels (sigma 4)',
      number('--aug-elastic', false),
    )
    .option(
      '--loss-options <list>',
      'loss settings as key=value pairs, e.g. margin=0.1 or beta=20,base=0.5',
    )
    .option(
      '--workers <n>',
      'data-parallel gradient worker threads, one wasm backend each (default: train in one thread)',
      number('--workers', true),
    )
    .option(
      '--shards <n>',
      'shards of whole classes per batch (default: --workers); the loss curve depends on it, not on --workers',
      number('--shards', true),
    )
    .option(
      '--instance-weight <w>',
      'add self-supervised instance discrimination (two augmented views per image) with this weight; needs augmentation',
      number('--instance-weight', false),
    )
    .option(
      '--instances <n>',
      'images per batch that get two views for the instance term (default: half the batch)',
      number('--instances', true),
    )
    .option('--json', 'print the result as JSON on stdout')
    .action(async (options: TrainOptions) => {
      const config = toTrainingConfig(options);
      // A batch the data set's classes cannot fill fails here, as POST /v1/training-jobs does.
      await checkTrainingData(resolveTrainingConfig(config));
      const controller = new AbortController();
      const onSignal = () => {
        process.stderr.write('\ncancelling at the next step (resume with --resume)...\n');
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      const reporter = progressReporter();
      try {
        const result = await runTrainingInWorker(config, reporter.onProgress, controller.signal);
        reporter.stop();
        if (options.json)
          process.stdout.write(`${JSON.stringify(trainingResultJson(result), null, 2)}\n`);
        else process.stdout.write(`${summary(result)}\n`);
      } finally {
        reporter.stop();
        process.off('SIGINT', onSignal);
      }
    });
}
