/**
 * Worker-thread entry of training, for the CLI and the HTTP API alike (its own tfjs backend; cancel
 * stops at the next step, which writes a checkpoint first):
 * - `run` (`rir train`): trains the configuration as given; progress is the trainer's events.
 * - `job` (a training job): trains (resuming from the job's checkpoint if a previous run left one, and
 *   saying where it resumed), then runs the quick attack suite, writes its figures into the manifest
 *   (metrics.robustness and the robustness block), and answers with the model directory; progress is
 *   the job's.
 */
import * as path from 'path';
import { ATTACK_NAMES } from '../ml/attacks/definitions';
import {
  prepareGalleryAsync,
  sampleQueries,
  naturalRecallAt1,
  naturalRecallPerQuery,
} from '../ml/attacks/suite';
import { initBackend } from '../ml/backend';
import { loadDataset } from '../ml/data';
import { backboneChannels } from '../ml/models';
import {
  loadModelVersion,
  readManifest,
  updateManifest,
  type RobustnessBlock,
} from '../ml/model-store';
import { chanceLevels, naturalRecallEstimate } from '../ml/robustness/estimates';
import { robustnessBlockFromReport } from '../ml/robustness/manifest-block';
import { buildRobustnessReportAsync } from '../ml/robustness/report';
import { CHECKPOINT_DIR, checkpointPosition, openCheckpoint } from '../ml/training/checkpoint';
import type { TrainingConfig } from '../ml/training/config';
import { trainEmbeddingModel, type TrainingResult } from '../ml/training/trainer';
import type { Embedder, ImageSet, ProgressEvent, TrainingPosition } from '../ml/types';
import type { JobProgress } from '../modules/jobs/job.entity';
import type { TrainingJobResult, TrainingJobSpec } from '../modules/training/training-spec';
import { serveThread, type ThreadContext } from './thread';

/** A training run as `rir train` gives it. */
export interface TrainingRunInput {
  kind: 'run';
  config: Partial<TrainingConfig> & { dataset: string; outDir: string };
  backend?: string;
}

/** A training job's spec and where its attempts keep their checkpoints. */
export interface TrainingJobInput {
  kind: 'job';
  spec: TrainingJobSpec;
  backend?: string;
  /** Named in the manifest's robustness block (the command that measured it). */
  jobId?: string;
  /** DATA_DIR/jobs/<id>: kept across attempts. */
  checkpointDir: string;
  /** 1 on the first run. */
  attempt: number;
}

export type TrainingThreadInput = TrainingRunInput | TrainingJobInput;
export type TrainingThreadProgress = ProgressEvent | JobProgress;
export type TrainingThreadResult = TrainingResult | TrainingJobResult;

function toJobProgress(event: ProgressEvent): JobProgress {
  // A checkpoint changes nothing else of the progress: only where a resume would start.
  if (event.phase === 'checkpoint') return { checkpoint: event.checkpoint };
  const where = {
    phase: event.phase,
    epoch: event.epoch,
    epochs: event.epochs,
    step: event.step,
    total: event.totalSteps,
  };
  if (event.phase === 'resume')
    return { ...where, message: event.message, resumedFrom: event.resumedFrom ?? null };
  return {
    ...where,
    loss: event.loss,
    imagesPerSecond: event.imagesPerSecond,
    etaSeconds: event.etaSeconds,
    message: event.message,
  };
}

/**
 * The training job's bounded robustness suite: all nine attacks at the job's eps, `robustnessSteps` PGD
 * steps of 2.5 eps / steps, one restart, on `robustnessSamples` held-out queries, no strength checks.
 * Its figures are labelled 'quick suite' in the manifest.
 */
export const QUICK_SUITE = { restarts: 1, stepSizeFactor: 2.5 } as const;

interface QuickRobustness {
  /** The job's result figure: R@1 before and after the ES attack (RobRank's ES:R), as before the suite. */
  result: Record<string, unknown>;
  /** The manifest's robustness block; null when no query could be measured. */
  block: RobustnessBlock | null;
}

/** Natural R@1 of the sampled held-out queries only (eps 0, or a held-out set the suite cannot attack). */
async function naturalOnly(
  model: Embedder,
  test: ImageSet,
  spec: TrainingJobSpec,
  context: { data: string; command: string; weightsSha256: string; note: string },
): Promise<QuickRobustness> {
  // Read back asynchronously, as everything in this thread: the job runs on webgpu too.
  const gallery = await prepareGalleryAsync(model, test);
  try {
    const rows = sampleQueries(
      gallery,
      Math.min(spec.robustness.samples, test.labels.length),
      spec.seed,
    );
    const eps = spec.defenseOptions.eps;
    const naturalR1 = naturalRecallAt1(gallery, rows);
    const result: Record<string, unknown> = {
      attack: 'ES',
      eps,
      samples: rows.length,
      naturalRecallAt1: naturalR1,
      recallAt1UnderAttack: eps === 0 ? naturalR1 : null,
      note: context.note,
    };
    if (rows.length === 0) return { result, block: null };
    // n, 95% interval (Wilson) and the chance level of each R@1 (percent).
    const chance = chanceLevels(gallery.labels, rows);
    const natural = naturalRecallEstimate(naturalRecallPerQuery(gallery, rows), chance);
    result.chanceRecallAt1 = chance.recallAt1;
    result.estimates = {
      naturalRecallAt1: natural,
      ...(eps === 0 ? { recallAt1UnderAttack: natural } : {}),
    };
    const block: RobustnessBlock = {
      natural: {
        recallAt1: {
          value: natural.value,
          low: natural.low,
          high: natural.high,
          n: natural.n,
          method: natural.method,
        },
      },
      adversarial: null,
      chance: { recallAt1: chance.recallAt1 },
      attack: {
        eps,
        alpha: 0,
        steps: 0,
        restarts: 0,
        attacks: [],
        sampleSize: rows.length,
        gallerySize: test.labels.length,
        seed: spec.seed,
        strengthChecks: false,
      },
      budget: 'quick suite',
      data: context.data,
      date: new Date().toISOString(),
      command: context.command,
      weightsSha256: context.weightsSha256,
      note: context.note,
    };
    return { result, block };
  } finally {
    gallery.dispose();
  }
}

/**
 * The quick suite on the held-out classes: the job's result figure and the manifest's robustness block
 * (natural R@1, ES:R, LTM, GTM, their worst and ERS, each with n and 95% interval).
 */
async function quickRobustness(
  modelDir: string,
  test: ImageSet,
  spec: TrainingJobSpec,
  jobId: string | undefined,
): Promise<QuickRobustness> {
  const { model, manifest } = await loadModelVersion(modelDir);
  const eps = spec.defenseOptions.eps;
  const steps = spec.robustness.steps;
  const alpha = (QUICK_SUITE.stepSizeFactor * eps) / steps;
  const context = {
    data: `${spec.datasetName}: held-out classes of the training split (${test.labels.length} images)`,
    command:
      `training job ${jobId ?? '(unknown id)'} (POST /v1/training-jobs): quick suite after training, ` +
      `all nine attacks at the job's eps ${eps}, alpha ${alpha}, ${steps} steps, 1 restart, ` +
      `${spec.robustness.samples} held-out queries, seed ${spec.seed}, no strength checks`,
    weightsSha256: manifest.weightsSha256,
  };
  try {
    if (eps === 0)
      return await naturalOnly(model, test, spec, { ...context, note: 'eps 0: not attacked' });
    let report;
    try {
      report = await buildRobustnessReportAsync(model, test, {
        attacks: [...ATTACK_NAMES],
        eps,
        alpha,
        steps,
        restarts: QUICK_SUITE.restarts,
        sampleSize: Math.min(spec.robustness.samples, test.labels.length),
        seed: spec.seed,
        skipStrengthCheck: true,
        model: manifest.id,
        dataset: spec.datasetName,
      });
    } catch (error) {
      // A held-out set the suite cannot attack (no class with two images, say) still gives a version.
      const note = `not attacked: ${(error as Error).message}`;
      return await naturalOnly(model, test, spec, { ...context, note });
    }
    const e = report.estimates;
    const block = robustnessBlockFromReport(report, { ...context, budget: 'quick suite' });
    return {
      result: {
        attack: 'ES',
        eps,
        steps,
        samples: report.options.sampleSize,
        naturalRecallAt1: report.natural.recallAt1,
        recallAt1UnderAttack: report.figures['ES:R'],
        embeddingShift: report.figures['ES:D'],
        chanceRecallAt1: report.chance.recallAt1,
        estimates: {
          naturalRecallAt1: e.naturalRecallAt1,
          recallAt1UnderAttack: e.figures['ES:R'],
          embeddingShift: e.figures['ES:D'],
        },
      },
      block,
    };
  } finally {
    model.dispose();
  }
}

async function trainJob(
  input: TrainingJobInput,
  thread: ThreadContext<JobProgress>,
): Promise<TrainingJobResult> {
  const { spec, jobId } = input;
  const outDir = path.join(input.checkpointDir, 'model');
  // A rerun (attempt 2+) or a leftover checkpoint: the trainer resumes and reports from where.
  const resume = input.attempt > 1 || (await openCheckpoint(outDir)) !== null;
  thread.reportProgress({ phase: 'load-data', message: `loading ${spec.datasetName}` });
  const size = spec.imageSize ?? 64;
  const split = await loadDataset(spec.dataset, {
    seed: spec.seed,
    imageSize: { height: size, width: size, channels: backboneChannels(spec.backbone) },
    maxTrain: spec.maxTrain,
    maxValidation: spec.maxValidation,
    maxTest: spec.maxTest,
  });
  let resumedFrom: TrainingPosition | null = null;
  try {
    ({ resumedFrom } = await trainEmbeddingModel(
      {
        dataset: spec.dataset,
        backbone: spec.backbone,
        trainBackbone: spec.trainBackbone,
        imageSize: spec.imageSize,
        embeddingDim: spec.embeddingDim,
        loss: spec.loss,
        defense: spec.defense,
        defenseOptions: spec.defenseOptions,
        inner: spec.inner,
        freeReplays: spec.freeReplays,
        onOverfit: spec.onOverfit,
        epochs: spec.epochs,
        batchSize: spec.batchSize,
        perClass: spec.perClass,
        learningRate: spec.learningRate,
        seed: spec.seed,
        stepsPerEpoch: spec.stepsPerEpoch,
        maxTrain: spec.maxTrain,
        maxValidation: spec.maxValidation,
        maxTest: spec.maxTest,
        outDir,
        resume,
        checkpointEverySteps: spec.checkpointEverySteps,
        checkpointEveryMinutes: spec.checkpointEveryMinutes,
      },
      {
        split,
        signal: thread.signal,
        onProgress: (event) => thread.reportProgress(toJobProgress(event)),
      },
    ));
  } catch (error) {
    if (!thread.cancelled()) throw error;
    // Cancelled: keep the last checkpoint (written at the cancel; a model version on its own).
    const kept = await openCheckpoint(outDir);
    return {
      cancelled: true,
      epochsCompleted: kept?.epoch ?? 0,
      checkpoint: kept ? checkpointPosition(kept) : undefined,
      checkpointDir: kept ? path.join(outDir, CHECKPOINT_DIR) : undefined,
    };
  }
  thread.reportProgress({
    phase: 'robustness',
    message: 'quick attack suite on the held-out classes',
    etaSeconds: undefined,
  });
  const { result: robustness, block } = await quickRobustness(outDir, split.test, spec, jobId);
  const manifest = await updateManifest(outDir, {
    metrics: { ...(await readManifest(outDir)).metrics, robustness },
    ...(block ? { robustness: block } : {}),
  });
  const metrics = { ...(manifest.metrics ?? {}) };
  delete metrics.history;
  return {
    modelDir: outDir,
    metrics,
    robustness,
    resumedFrom,
    resumedFromEpoch: resumedFrom ? resumedFrom.epoch - 1 : undefined,
  };
}

serveThread<TrainingThreadInput, TrainingThreadResult, TrainingThreadProgress>(
  async (input, thread) => {
    await initBackend(input.backend);
    if (input.kind === 'job') return trainJob(input, thread);
    // Cancelled: the trainer writes a checkpoint and throws its AbortError, which the caller gets.
    return trainEmbeddingModel(input.config, {
      signal: thread.signal,
      onProgress: (event) => thread.reportProgress(event),
    });
  },
);
