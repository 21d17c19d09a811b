import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { concatFloat32 } from '../data/arrays';
import { augmentBatch, NO_AUGMENTATION } from '../data/augment';
import { loadDataset } from '../data/datasets';
import { SeededRandom } from '../data/random';
import { MPerClassSampler } from '../data/sampler';
import { selectImages } from '../data/split';
import { createDefense } from '../defenses';
import { createLoss } from '../losses';
import { embedAll, evaluateRetrieval, type RetrievalMetrics } from '../metrics';
import { loadModel, loadModelVersion, saveModel, type ModelManifest } from '../model-store';
import { backboneChannels, createEmbeddingModel, type EmbeddingModel } from '../models';
import { GradientWorkers } from '../parallel/gradient-workers';
import type { DatasetSplit, Defense, ProgressListener, TrainingPosition } from '../types';
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
import { applyGradients, computeGradients } from './step';

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
  const checkAbort = () => {
    if (hooks.signal?.aborted) throw new TrainingCancelledError();
  };
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
    }));
  checkAbort();
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
        });
  const loss = createLoss(config.loss, { seed: config.seed, ...config.lossOptions });
  const instanceTerm = config.instanceTerm;
  const objectiveLoss = instanceTerm ? withInstanceTerm(loss.compute, instanceTerm) : loss.compute;
  const defense =
    hooks.defense ??
    createDefense(config.defense, {
      seed: config.seed,
      ...config.defenseOptions,
      inner: config.inner,
      freeReplays: config.freeReplays,
      onOverfit: config.onOverfit,
    });
  const variables = [...model.trainableVariables, ...loss.variables];
  const optimizer = tf.train.adam(config.learningRate);
  const augmentation = config.augmentation ?? NO_AUGMENTATION;
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
    const stepsPerEpoch = config.stepsPerEpoch ?? sampler.batchesPerEpoch;
    const totalSteps = stepsPerEpoch * config.epochs;
    const history: EpochRecord[] = resumed ? resumed.history : [];
    restoreOverfitFallback(defense, history);
    let globalStep = resumed ? resumed.globalStep : 0;
    let best = resumed ? resumed.bestValidationRecallAt1 : null;
    let bestEpoch = resumed ? resumed.bestEpoch : -1;
    let stoppedEarly = false;
    let trainedImages = 0;
    let trainingSeconds = 0;
    const shape = split.train.shape;
    const resumedFrom = resumed ? checkpointPosition(resumed) : null;
    if (config.resume) {
      hooks.onProgress?.({
        phase: 'resume',
        epoch: resumedFrom?.epoch ?? 1,
        epochs: config.epochs,
        step: globalStep,
        totalSteps,
        message: describeResume(resumed, config.epochs),
        resumedFrom,
      });
    }
    const everySteps = config.checkpointEverySteps ?? CHECKPOINT_DEFAULTS.everySteps;
    const everyMs = (config.checkpointEveryMinutes ?? CHECKPOINT_DEFAULTS.everyMinutes) * 60_000;
    let checkpointStep = globalStep;
    let checkpointAt = Date.now();
    const checkpoint = async (
      state: Omit<CheckpointState, 'lossVariables' | 'writtenAt' | 'config' | 'history'>,
      newBest = false,
    ): Promise<void> => {
      const written = await saveCheckpoint(
        config.outDir,
        model,
        optimizer,
        loss.variables,
        { ...state, history, config, lossRandomState: loss.random?.getState() },
        { newBest },
      );
      checkpointStep = globalStep;
      checkpointAt = Date.now();
      hooks.onProgress?.({
        phase: 'checkpoint',
        epoch: state.epoch + 1,
        epochs: config.epochs,
        step: globalStep,
        totalSteps,
        checkpoint: checkpointPosition(written),
      });
    };
    for (let epoch = resumed ? resumed.epoch : 0; epoch < config.epochs; epoch++) {
      const epochStart = Date.now();
      // Free training replays each batch: an epoch has stepsPerEpoch optimizer steps on 1/replays of
      // the batches (stepInEpoch of a checkpoint then counts batches).
      const replays = defense.inner?.replays ?? 1;
      const batches = batchesOfEpoch(sampler, epoch, Math.ceil(stepsPerEpoch / replays));
      const augmentRandom = new SeededRandom(config.seed * 7919 + epoch);
      // Resuming within this epoch: skip the steps done, continue the streams where they were.
      const partial = resumed && epoch === resumed.epoch ? resumed.partialEpoch : undefined;
      const firstStep = partial ? Math.min(resumed?.stepInEpoch ?? 0, batches.length) : 0;
      if (partial) augmentRandom.setState(partial.augmentRandomState);
      let lossSum = partial?.lossSum ?? 0;
      const secondsBefore = partial?.seconds ?? 0;
      let learningRate = config.learningRate;
      const withinEpoch = (stepInEpoch: number) => ({
        epoch,
        stepInEpoch,
        globalStep,
        bestValidationRecallAt1: best,
        bestEpoch,
        partialEpoch: {
          lossSum,
          seconds: secondsBefore + (Date.now() - epochStart) / 1000,
          augmentRandomState: augmentRandom.getState(),
        },
      });
      for (let b = firstStep; b < batches.length; b++) {
        if (hooks.signal?.aborted) {
          // Stopped (cancel, shutdown, Ctrl-C): keep every step done, for a resume.
          if (globalStep > checkpointStep) await checkpoint(withinEpoch(b));
          throw new TrainingCancelledError();
        }
        if (
          b > firstStep &&
          (globalStep - checkpointStep >= everySteps || Date.now() - checkpointAt >= everyMs)
        ) {
          await checkpoint(withinEpoch(b));
        }
        const stepStart = Date.now();
        const batchSet = selectImages(split.train, batches[b]);
        let pixels = augmentBatch(batchSet.images, shape, augmentation, augmentRandom);
        let batchLabels = batchSet.labels;
        if (instanceTerm) {
          const views = instanceViews(
            batchSet.images,
            shape,
            instanceTerm.instances,
            augmentation,
            augmentRandom,
          );
          pixels = concatFloat32([pixels, views.pixels]);
          batchLabels = Int32Array.from([...batchLabels, ...views.labels]);
        }
        const images = tf.tensor4d(pixels, [batchLabels.length, ...shape]);
        const labels = tf.tensor1d(batchLabels, 'int32');
        try {
          // The last batch of an epoch is replayed only as often as the epoch has steps left.
          const batchReplays = Math.min(replays, stepsPerEpoch - b * replays);
          for (let replay = 0; replay < batchReplays; replay++) {
            const replayStart = replay === 0 ? stepStart : Date.now();
            learningRate = learningRateAt(config, globalStep, stepsPerEpoch, totalSteps);
            setLearningRate(optimizer, learningRate);
            const step = parallel
              ? await parallel.computeGradients(
                  model,
                  loss.variables,
                  variables,
                  pixels,
                  batchSet.labels,
                  perClass,
                  globalStep,
                )
              : computeGradients(
                  model,
                  variables,
                  defense,
                  objectiveLoss,
                  { images, labels, classRows: batchSet.labels.length },
                  globalStep,
                );
            applyGradients(optimizer, step.grads);
            lossSum += step.loss;
            globalStep++;
            trainedImages += batchLabels.length;
            trainingSeconds += (Date.now() - replayStart) / 1000;
            const imagesPerSecond = trainedImages / Math.max(trainingSeconds, 1e-6);
            hooks.onProgress?.({
              phase: 'train',
              epoch: epoch + 1,
              epochs: config.epochs,
              step: globalStep,
              totalSteps,
              loss: step.loss,
              imagesPerSecond,
              etaSeconds: ((totalSteps - globalStep) * batchLabels.length) / imagesPerSecond,
            });
          }
        } finally {
          tf.dispose([images, labels]);
        }
        await yieldToEventLoop(); // lets a cancel message (worker) or other work in
      }
      const validationRecall =
        split.validation.labels.length > 1
          ? evaluateRetrieval(
              embedAll(model, split.validation),
              model.embeddingDim,
              split.validation.labels,
              {
                skipNmi: true,
              },
            ).recallAt1
          : Number.NaN;
      // NaN: no validation image has another of its class (e.g. one held-out image per class), so the
      // epochs cannot be ranked and the last one is delivered.
      const validationRecallAt1 = Number.isFinite(validationRecall) ? validationRecall : null;
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: lossSum / stepsPerEpoch,
        learningRate,
        validationRecallAt1,
        imagesPerSecond: trainedImages / Math.max(trainingSeconds, 1e-6),
        seconds: secondsBefore + (Date.now() - epochStart) / 1000,
      };
      history.push(record);
      // fast and free: the catastrophic-overfitting check (may switch the defence to PGD).
      const overfit = checkEpochForOverfitting(
        defense,
        model,
        split.validation,
        history,
        epoch + 1,
        config.seed,
      );
      if (overfit) {
        record.robustCheck = overfit.check;
        hooks.onProgress?.({
          phase: 'robust-check',
          epoch: epoch + 1,
          epochs: config.epochs,
          step: globalStep,
          totalSteps,
          message: overfit.message,
        });
      }
      const improved =
        !overfit?.excludesEpoch &&
        validationRecallAt1 !== null &&
        (best === null || validationRecallAt1 > best);
      if (improved) {
        best = validationRecallAt1;
        bestEpoch = epoch + 1;
      }
      await checkpoint(
        {
          epoch: epoch + 1,
          stepInEpoch: 0,
          globalStep,
          bestValidationRecallAt1: best,
          bestEpoch,
        },
        improved,
      );
      hooks.onProgress?.({
        phase: 'epoch',
        epoch: epoch + 1,
        epochs: config.epochs,
        step: globalStep,
        totalSteps,
        loss: record.loss,
        imagesPerSecond: record.imagesPerSecond,
        message: `epoch ${epoch + 1}: loss ${record.loss.toFixed(4)}${
          validationRecallAt1 === null ? '' : `, validation R@1 ${validationRecallAt1.toFixed(4)}`
        }`,
      });
      const patience = config.patience ?? 0;
      if (patience > 0 && bestEpoch > 0 && epoch + 1 - bestEpoch >= patience) {
        stoppedEarly = true;
        break;
      }
      if (overfit?.stop) {
        stoppedEarly = true;
        break;
      }
    }
    // The delivered model is the best validation epoch (the last one when there is no validation split).
    const lastEpoch = history.length > 0 ? history[history.length - 1].epoch : 0;
    if (bestEpoch > 0 && bestEpoch !== lastEpoch) {
      const bestModel = await loadModel(path.join(config.outDir, CHECKPOINT_DIR, BEST_DIR));
      model.model.setWeights(bestModel.model.getWeights());
      bestModel.dispose();
    }
    hooks.onProgress?.({
      phase: 'evaluate',
      step: globalStep,
      totalSteps,
      message: 'evaluating on the test classes',
    });
    const metrics = evaluateRetrieval(
      embedAll(model, split.test),
      model.embeddingDim,
      split.test.labels,
      {
        seed: config.seed,
      },
    );
    const imagesPerSecond = trainedImages / Math.max(trainingSeconds, 1e-6);
    const durationSeconds = (Date.now() - started) / 1000;
    const manifest = await saveModel(config.outDir, model, {
      loss: { name: loss.name, config: loss.config },
      defense: { name: defense.name, config: defense.config },
      dataset: split.description,
      training: { ...config, augmentation },
      metrics: {
        ...metrics,
        bestEpoch,
        bestValidationRecallAt1: best,
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
      resumedFrom,
    };
  } finally {
    await parallel?.close();
    model.dispose();
    loss.dispose();
    optimizer.dispose();
    defense.inner?.dispose();
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
