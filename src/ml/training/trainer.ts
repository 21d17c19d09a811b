import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { concatFloat32 } from '../data/arrays';
import { augmentBatch, NO_AUGMENTATION, type AugmentationConfig } from '../data/augment';
import { loadDataset } from '../data/datasets';
import { SeededRandom } from '../data/random';
import { MPerClassSampler } from '../data/sampler';
import { selectImages } from '../data/split';
import { createDefense } from '../defenses';
import { createLoss, type MetricLoss } from '../losses';
import { onHostBackend } from '../backend/reads';
import { embedAllAsync, evaluateRetrieval, type RetrievalMetrics } from '../metrics';
import { loadModel, loadModelVersion, saveModel, type ModelManifest } from '../model-store';
import { backboneChannels, createEmbeddingModel, type EmbeddingModel } from '../models';
import { GradientWorkers } from '../parallel/gradient-workers';
import type {
  BatchLoss,
  DatasetSplit,
  Defense,
  ProgressListener,
  TrainingPosition,
} from '../types';
import {
  BEST_DIR,
  CHECKPOINT_DIR,
  checkpointPosition,
  describeResume,
  openCheckpoint,
  restoreOptimizer,
  saveCheckpoint,
  type CheckpointState,
  type EpochRecord,
} from './checkpoint';
import {
  CHECKPOINT_DEFAULTS,
  checkClassesPerBatch,
  defaultPerClass,
  resolveTrainingConfig,
  type TrainingConfig,
} from './config';
import { learningRateAt, setLearningRate } from './schedule';
import { instanceViews, withInstanceTerm } from './instance-term';
import { checkEpochForOverfitting, restoreOverfitFallback } from './overfit';
import { applyGradients, computeGradientsAsync } from './step';
import { createAdam, type AdamState } from './adam';

export interface TrainingHooks {
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** A defence instance to use instead of creating `config.defense` by name. */
  defense?: Defense;
  /** A data split already loaded (tests, callers that hold the data). */
  split?: DatasetSplit;
}

export interface TrainingResult {
  outDir: string;
  manifest: ModelManifest;
  metrics: RetrievalMetrics;
  history: EpochRecord[];
  stoppedEarly: boolean;
  imagesPerSecond: number;
  durationSeconds: number;
  /** Where this run continued from (`resume` and a checkpoint); null when it started from step 0. */
  resumedFrom: TrainingPosition | null;
}

export class TrainingCancelledError extends Error {
  constructor() {
    super('training cancelled');
    this.name = 'AbortError';
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function inputSizeFor(config: TrainingConfig) {
  const size = config.imageSize ?? 64;
  return {
    height: size,
    width: size,
    channels: backboneChannels(config.backbone),
  };
}

/**
 * Trains an embedding model with a metric loss under a defence (natural by default), one epoch of
 * m-per-class batches at a time: checkpoint within epochs (every `checkpointEverySteps` steps or
 * `checkpointEveryMinutes`, whichever first), at each epoch's end and on cancel; early stop on
 * validation R@1; resume from OUT/checkpoint. Writes the final model version (the best validation
 * epoch) to OUT.
 *
 * A resumed run continues as the uninterrupted one would: weights, Adam's state, the step within the
 * epoch (the epoch's batches are a function of seed and epoch, so the rest of them are the same), the
 * augmentation and loss random streams' positions, the schedule (a function of the global step) and
 * the best validation epoch all come from the checkpoint. One exception: with data-parallel workers
 * (`workers`/`shards` > 1) a loss that draws as it goes (margin) keeps a stream per worker, which a
 * resumed run re-seeds with `seed + global step`.
 */
export async function trainEmbeddingModel(
  input: Partial<TrainingConfig> & { dataset: string; outDir: string },
  hooks: TrainingHooks = {},
): Promise<TrainingResult> {
  const config = resolveTrainingConfig(input);
  const started = Date.now();
  hooks.onProgress?.({
    phase: 'load-data',
    step: 0,
    totalSteps: 0,
    message: `loading ${config.dataset}`,
  });
  const split =
    hooks.split ??
    (await loadDataset(config.dataset, {
      seed: config.seed,
      imageSize: inputSizeFor(config),
      maxTrain: config.maxTrain,
      maxValidation: config.maxValidation,
      maxTest: config.maxTest,
      validationFraction: config.validationFraction,
      validationClasses: config.validationClasses,
    }));
  if (hooks.signal?.aborted) throw new TrainingCancelledError();
  const resumed = config.resume ? await openCheckpoint(config.outDir) : null;
  const model: EmbeddingModel = resumed
    ? await loadModel(path.join(config.outDir, CHECKPOINT_DIR))
    : config.initFrom
      ? await loadInitialModel(config, split.train.shape)
      : await createEmbeddingModel({
          backbone: config.backbone,
          inputShape: split.train.shape,
          embeddingDim: config.embeddingDim,
          seed: config.seed,
          trainBackbone: config.trainBackbone,
        });
  const loss = createLoss(config.loss, { seed: config.seed, ...config.lossOptions });
  const defense =
    hooks.defense ??
    createDefense(config.defense, {
      seed: config.seed,
      ...config.defenseOptions,
      inner: config.inner,
      freeReplays: config.freeReplays,
      onOverfit: config.onOverfit,
    });
  const optimizer = createAdam({ learningRate: config.learningRate });
  const perClass =
    config.perClass ?? defaultPerClass(config.batchSize, new Set(split.train.labels).size);
  let parallel: GradientWorkers | null = null;
  try {
    checkClassesPerBatch(
      config.batchSize,
      perClass,
      new Set(split.train.labels).size,
      config.dataset,
    );
    if (resumed) {
      await restoreOptimizer(config.outDir, optimizer, loss.variables, resumed);
      if (resumed.lossRandomState !== undefined) loss.random?.setState(resumed.lossRandomState);
    }
    parallel = await startGradientWorkers(config, split.train.shape, hooks, resumed?.globalStep);
    const sampler = new MPerClassSampler(split.train.labels, {
      batchSize: config.batchSize,
      perClass,
      seed: config.seed,
    });
    const run = new TrainingRun(
      config,
      hooks,
      { split, model, loss, defense, optimizer, parallel, sampler, perClass },
      resumed,
    );
    if (config.resume) run.reportResume();
    let stoppedEarly = false;
    for (let epoch = resumed ? resumed.epoch : 0; epoch < config.epochs; epoch++) {
      if ((await run.trainEpoch(epoch)).stop) {
        stoppedEarly = true;
        break;
      }
    }
    return await run.finish(started, stoppedEarly);
  } finally {
    await parallel?.close();
    model.dispose();
    loss.dispose();
    optimizer.dispose();
    defense.inner?.dispose();
  }
}

/** What a training run trains with: built by trainEmbeddingModel, which also disposes of it. */
interface RunParts {
  split: DatasetSplit;
  model: EmbeddingModel;
  loss: MetricLoss;
  defense: Defense;
  optimizer: AdamState;
  /** Gradient worker threads, or null to compute gradients here. */
  parallel: GradientWorkers | null;
  sampler: MPerClassSampler;
  perClass: number;
}

/** One epoch as it stands within a step: what a checkpoint taken there records of it. */
interface EpochProgress {
  epoch: number;
  started: number;
  secondsBefore: number;
  lossSum: number;
  learningRate: number;
  augmentRandom: SeededRandom;
}

/**
 * One training run's steps, epochs and finish, over the state they share: the global step, the best
 * validation epoch, the history, the throughput counters and when the last checkpoint was written.
 */
class TrainingRun {
  private readonly shape: [number, number, number];
  private readonly variables: tf.Variable[];
  private readonly objectiveLoss: BatchLoss;
  private readonly augmentation: AugmentationConfig;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly everySteps: number;
  private readonly everyMs: number;
  readonly history: EpochRecord[];
  private readonly resumedFrom: TrainingPosition | null;
  private globalStep: number;
  private best: number | null;
  private bestEpoch: number;
  private trainedImages = 0;
  private trainingSeconds = 0;
  private checkpointStep: number;
  private checkpointAt = Date.now();

  constructor(
    private readonly config: TrainingConfig,
    private readonly hooks: TrainingHooks,
    private readonly parts: RunParts,
    private readonly resumed: CheckpointState | null,
  ) {
    const { split, model, loss, defense, sampler } = parts;
    this.shape = split.train.shape;
    this.variables = [...model.trainableVariables, ...loss.variables];
    this.objectiveLoss = config.instanceTerm
      ? withInstanceTerm(loss.compute, config.instanceTerm)
      : loss.compute;
    this.augmentation = config.augmentation ?? NO_AUGMENTATION;
    this.stepsPerEpoch = config.stepsPerEpoch ?? sampler.batchesPerEpoch;
    this.totalSteps = this.stepsPerEpoch * config.epochs;
    this.history = resumed ? resumed.history : [];
    restoreOverfitFallback(defense, this.history);
    this.globalStep = resumed ? resumed.globalStep : 0;
    this.best = resumed ? resumed.bestValidationRecallAt1 : null;
    this.bestEpoch = resumed ? resumed.bestEpoch : -1;
    this.resumedFrom = resumed ? checkpointPosition(resumed) : null;
    this.everySteps = config.checkpointEverySteps ?? CHECKPOINT_DEFAULTS.everySteps;
    this.everyMs = (config.checkpointEveryMinutes ?? CHECKPOINT_DEFAULTS.everyMinutes) * 60_000;
    this.checkpointStep = this.globalStep;
  }

  /** Says where a resumed run really continues (or that it starts from step 0). */
  reportResume(): void {
    this.hooks.onProgress?.({
      phase: 'resume',
      epoch: this.resumedFrom?.epoch ?? 1,
      epochs: this.config.epochs,
      step: this.globalStep,
      totalSteps: this.totalSteps,
      message: describeResume(this.resumed, this.config.epochs),
      resumedFrom: this.resumedFrom,
    });
  }

  /**
   * One epoch: its batches from the step a checkpoint reached (checkpointing within it as configured,
   * and on a cancel), then validation, the overfitting check and the epoch's checkpoint. `stop`: the
   * run ends early (patience spent, or the overfitting check says so).
   */
  async trainEpoch(epoch: number): Promise<{ stop: boolean }> {
    const { config, hooks, parts, resumed } = this;
    const started = Date.now();
    // Free training replays each batch: an epoch has stepsPerEpoch optimizer steps on 1/replays of
    // the batches (stepInEpoch of a checkpoint then counts batches).
    const replays = parts.defense.inner?.replays ?? 1;
    const batches = batchesOfEpoch(parts.sampler, epoch, Math.ceil(this.stepsPerEpoch / replays));
    const progress: EpochProgress = {
      epoch,
      started,
      secondsBefore: 0,
      lossSum: 0,
      learningRate: config.learningRate,
      augmentRandom: new SeededRandom(config.seed * 7919 + epoch),
    };
    // Resuming within this epoch: skip the steps done, continue the streams where they were.
    const partial = resumed && epoch === resumed.epoch ? resumed.partialEpoch : undefined;
    const firstStep = partial ? Math.min(resumed?.stepInEpoch ?? 0, batches.length) : 0;
    if (partial) {
      progress.augmentRandom.setState(partial.augmentRandomState);
      progress.lossSum = partial.lossSum;
      progress.secondsBefore = partial.seconds;
    }
    for (let b = firstStep; b < batches.length; b++) {
      if (hooks.signal?.aborted) {
        // Stopped (cancel, shutdown, Ctrl-C): keep every step done, for a resume.
        if (this.globalStep > this.checkpointStep) await this.checkpoint(this.within(progress, b));
        throw new TrainingCancelledError();
      }
      if (
        b > firstStep &&
        (this.globalStep - this.checkpointStep >= this.everySteps ||
          Date.now() - this.checkpointAt >= this.everyMs)
      ) {
        await this.checkpoint(this.within(progress, b));
      }
      await this.trainBatch(batches[b], b, replays, progress);
      await yieldToEventLoop(); // lets a cancel message (worker) or other work in
    }
    return this.finishEpoch(progress);
  }

  /**
   * One batch (with its instance-term views), trained `replays` times (free training; once otherwise).
   * The last batch of an epoch is replayed only as often as the epoch has steps left.
   */
  private async trainBatch(
    indices: Int32Array,
    b: number,
    replays: number,
    progress: EpochProgress,
  ): Promise<void> {
    const { config, hooks, parts, shape } = this;
    const stepStart = Date.now();
    const batchSet = selectImages(parts.split.train, indices);
    let pixels = augmentBatch(batchSet.images, shape, this.augmentation, progress.augmentRandom);
    let batchLabels = batchSet.labels;
    if (config.instanceTerm) {
      const views = instanceViews(
        batchSet.images,
        shape,
        config.instanceTerm.instances,
        this.augmentation,
        progress.augmentRandom,
      );
      pixels = concatFloat32([pixels, views.pixels]);
      batchLabels = Int32Array.from([...batchLabels, ...views.labels]);
    }
    const images = tf.tensor4d(pixels, [batchLabels.length, ...shape]);
    const labels = tf.tensor1d(batchLabels, 'int32');
    try {
      const batchReplays = Math.min(replays, this.stepsPerEpoch - b * replays);
      for (let replay = 0; replay < batchReplays; replay++) {
        const replayStart = replay === 0 ? stepStart : Date.now();
        progress.learningRate = learningRateAt(
          config,
          this.globalStep,
          this.stepsPerEpoch,
          this.totalSteps,
        );
        setLearningRate(parts.optimizer, progress.learningRate);
        const step = parts.parallel
          ? await parts.parallel.computeGradients(
              parts.model,
              parts.loss.variables,
              this.variables,
              pixels,
              batchSet.labels,
              parts.perClass,
              this.globalStep,
            )
          : await computeGradientsAsync(
              parts.model,
              this.variables,
              parts.defense,
              this.objectiveLoss,
              { images, labels, classRows: batchSet.labels.length },
              this.globalStep,
            );
        applyGradients(parts.optimizer, step.grads);
        progress.lossSum += step.loss;
        this.globalStep++;
        this.trainedImages += batchLabels.length;
        this.trainingSeconds += (Date.now() - replayStart) / 1000;
        const imagesPerSecond = this.trainedImages / Math.max(this.trainingSeconds, 1e-6);
        hooks.onProgress?.({
          phase: 'train',
          epoch: progress.epoch + 1,
          epochs: config.epochs,
          step: this.globalStep,
          totalSteps: this.totalSteps,
          loss: step.loss,
          imagesPerSecond,
          etaSeconds: ((this.totalSteps - this.globalStep) * batchLabels.length) / imagesPerSecond,
        });
      }
    } finally {
      tf.dispose([images, labels]);
    }
  }

  /** An epoch's end: validation R@1, its record, the overfitting check, the checkpoint, whether to stop. */
  private async finishEpoch(progress: EpochProgress): Promise<{ stop: boolean }> {
    const { config, hooks, parts } = this;
    const { epoch } = progress;
    const { model, split } = parts;
    let validationRecall = Number.NaN;
    if (split.validation.labels.length > 1) {
      const embeddings = await embedAllAsync(model, split.validation);
      validationRecall = onHostBackend(() =>
        evaluateRetrieval(embeddings, model.embeddingDim, split.validation.labels, {
          skipNmi: true,
        }),
      ).recallAt1;
    }
    // NaN: no validation image has another of its class (e.g. one held-out image per class), so the
    // epochs cannot be ranked and the last one is delivered.
    const validationRecallAt1 = Number.isFinite(validationRecall) ? validationRecall : null;
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: progress.lossSum / this.stepsPerEpoch,
      learningRate: progress.learningRate,
      validationRecallAt1,
      imagesPerSecond: this.trainedImages / Math.max(this.trainingSeconds, 1e-6),
      seconds: progress.secondsBefore + (Date.now() - progress.started) / 1000,
    };
    this.history.push(record);
    // fast and free: the catastrophic-overfitting check (may switch the defence to PGD).
    const overfit = await checkEpochForOverfitting(
      parts.defense,
      model,
      split.validation,
      this.history,
      epoch + 1,
      config.seed,
    );
    if (overfit) {
      record.robustCheck = overfit.check;
      hooks.onProgress?.({
        phase: 'robust-check',
        epoch: epoch + 1,
        epochs: config.epochs,
        step: this.globalStep,
        totalSteps: this.totalSteps,
        message: overfit.message,
      });
    }
    const improved =
      !overfit?.excludesEpoch &&
      validationRecallAt1 !== null &&
      (this.best === null || validationRecallAt1 > this.best);
    if (improved) {
      this.best = validationRecallAt1;
      this.bestEpoch = epoch + 1;
    }
    await this.checkpoint(
      {
        epoch: epoch + 1,
        stepInEpoch: 0,
        globalStep: this.globalStep,
        bestValidationRecallAt1: this.best,
        bestEpoch: this.bestEpoch,
      },
      improved,
    );
    hooks.onProgress?.({
      phase: 'epoch',
      epoch: epoch + 1,
      epochs: config.epochs,
      step: this.globalStep,
      totalSteps: this.totalSteps,
      loss: record.loss,
      imagesPerSecond: record.imagesPerSecond,
      message: `epoch ${epoch + 1}: loss ${record.loss.toFixed(4)}${
        validationRecallAt1 === null ? '' : `, validation R@1 ${validationRecallAt1.toFixed(4)}`
      }`,
    });
    const patience = config.patience ?? 0;
    if (patience > 0 && this.bestEpoch > 0 && epoch + 1 - this.bestEpoch >= patience)
      return { stop: true };
    return { stop: overfit?.stop === true };
  }

  /** The checkpoint state at step `stepInEpoch` of the epoch in progress. */
  private within(
    progress: EpochProgress,
    stepInEpoch: number,
  ): Omit<CheckpointState, 'lossVariables' | 'writtenAt' | 'config' | 'history'> {
    return {
      epoch: progress.epoch,
      stepInEpoch,
      globalStep: this.globalStep,
      bestValidationRecallAt1: this.best,
      bestEpoch: this.bestEpoch,
      partialEpoch: {
        lossSum: progress.lossSum,
        seconds: progress.secondsBefore + (Date.now() - progress.started) / 1000,
        augmentRandomState: progress.augmentRandom.getState(),
      },
    };
  }

  private async checkpoint(
    state: Omit<CheckpointState, 'lossVariables' | 'writtenAt' | 'config' | 'history'>,
    newBest = false,
  ): Promise<void> {
    const { config, parts } = this;
    const written = await saveCheckpoint(
      config.outDir,
      parts.model,
      parts.optimizer,
      parts.loss.variables,
      { ...state, history: this.history, config, lossRandomState: parts.loss.random?.getState() },
      { newBest },
    );
    this.checkpointStep = this.globalStep;
    this.checkpointAt = Date.now();
    this.hooks.onProgress?.({
      phase: 'checkpoint',
      epoch: state.epoch + 1,
      epochs: config.epochs,
      step: this.globalStep,
      totalSteps: this.totalSteps,
      checkpoint: checkpointPosition(written),
    });
  }

  /**
   * The run's end: the best validation epoch's weights (the last epoch's when there is no validation
   * split), evaluated on the test classes and written to OUT as the model version.
   */
  async finish(started: number, stoppedEarly: boolean): Promise<TrainingResult> {
    const { config, hooks, parts, history } = this;
    const { model, split, loss, defense } = parts;
    const lastEpoch = history.length > 0 ? history[history.length - 1].epoch : 0;
    if (this.bestEpoch > 0 && this.bestEpoch !== lastEpoch) {
      const bestModel = await loadModel(path.join(config.outDir, CHECKPOINT_DIR, BEST_DIR));
      model.model.setWeights(bestModel.model.getWeights());
      bestModel.dispose();
    }
    hooks.onProgress?.({
      phase: 'evaluate',
      step: this.globalStep,
      totalSteps: this.totalSteps,
      message: 'evaluating on the test classes',
    });
    const testEmbeddings = await embedAllAsync(model, split.test);
    // Array maths with synchronous reads: on the host's backend where the model's reads are asynchronous.
    const metrics = onHostBackend(() =>
      evaluateRetrieval(testEmbeddings, model.embeddingDim, split.test.labels, {
        seed: config.seed,
      }),
    );
    const imagesPerSecond = this.trainedImages / Math.max(this.trainingSeconds, 1e-6);
    const durationSeconds = (Date.now() - started) / 1000;
    const manifest = await saveModel(config.outDir, model, {
      loss: { name: loss.name, config: loss.config },
      defense: { name: defense.name, config: defense.config },
      dataset: split.description,
      training: { ...config, augmentation: this.augmentation },
      metrics: {
        ...metrics,
        bestEpoch: this.bestEpoch,
        bestValidationRecallAt1: this.best,
        imagesPerSecond,
        durationSeconds,
        history,
      },
    });
    return {
      outDir: config.outDir,
      manifest,
      metrics,
      history,
      stoppedEarly,
      imagesPerSecond,
      durationSeconds,
      resumedFrom: this.resumedFrom,
    };
  }
}

/**
 * Gradient worker threads when the config asks for more than one worker or shard; null trains here.
 * A run resumed at `resumedStep` re-seeds the workers' loss streams with seed + resumedStep.
 */
async function startGradientWorkers(
  config: TrainingConfig,
  inputShape: [number, number, number],
  hooks: TrainingHooks,
  resumedStep = 0,
): Promise<GradientWorkers | null> {
  const workers = config.workers ?? 1;
  const shards = config.shards ?? workers;
  if (workers === 1 && shards === 1) return null;
  if (hooks.defense)
    throw new Error('a defence instance cannot be sent to worker threads: name it in the config');
  const lossOptions = { seed: config.seed, ...config.lossOptions };
  lossOptions.seed += resumedStep;
  return GradientWorkers.start(
    {
      model: {
        backbone: config.backbone,
        inputShape,
        embeddingDim: config.embeddingDim,
        seed: config.seed,
        trainBackbone: config.trainBackbone,
      },
      loss: { name: config.loss, options: lossOptions },
      defense: {
        name: config.defense,
        options: { seed: config.seed, ...config.defenseOptions },
      },
      backend: process.env.TFJS_BACKEND,
    },
    workers,
    shards,
  );
}

/** The model a fine-tuning run starts from, checked against the run's own configuration. */
async function loadInitialModel(
  config: TrainingConfig,
  inputShape: [number, number, number],
): Promise<EmbeddingModel> {
  const dir = config.initFrom as string;
  const { model, manifest } = await loadModelVersion(dir);
  const mismatches: string[] = [];
  if (manifest.backbone !== config.backbone)
    mismatches.push(`backbone ${manifest.backbone} (run: ${config.backbone})`);
  if (manifest.embeddingDim !== config.embeddingDim)
    mismatches.push(`embedding size ${manifest.embeddingDim} (run: ${config.embeddingDim})`);
  if (manifest.inputShape.join('x') !== inputShape.join('x'))
    mismatches.push(`input ${manifest.inputShape.join('x')} (data: ${inputShape.join('x')})`);
  if (!manifest.head) mismatches.push('no trained head (a frozen-feature baseline)');
  if (mismatches.length > 0) {
    model.dispose();
    throw new Error(`cannot fine-tune ${dir}: ${mismatches.join('; ')}`);
  }
  return model;
}

/** The batches of one epoch; more than the sampler's natural count are drawn from further seeded rounds. */
function batchesOfEpoch(sampler: MPerClassSampler, epoch: number, steps: number): Int32Array[] {
  const batches: Int32Array[] = [];
  for (let round = 0; batches.length < steps; round++)
    batches.push(...sampler.epoch(epoch + round * 1_000_003));
  return batches.slice(0, steps);
}
