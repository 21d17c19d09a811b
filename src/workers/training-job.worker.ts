/**
 * Worker-thread entry of a training job: trains (resuming from the job's checkpoint if a previous run
 * left one, and saying where it resumed), then measures the quick robustness figure, and answers with
 * the model directory.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import {
  prepareGallery,
  runAttack,
  sampleQueries,
  naturalRecallAt1,
  naturalRecallPerQuery,
} from '../ml/attacks/suite';
import { initBackend } from '../ml/backend';
import { loadDataset } from '../ml/data';
import { backboneChannels } from '../ml/models';
import { loadModel, MANIFEST_FILE } from '../ml/model-store';
import { chanceLevels, naturalRecallEstimate } from '../ml/robustness/estimates';
import { CHECKPOINT_DIR, checkpointPosition, openCheckpoint } from '../ml/training/checkpoint';
import { trainEmbeddingModel } from '../ml/training/trainer';
import type { ImageSet, ProgressEvent, TrainingPosition } from '../ml/types';
import { serveJobThread, type JobThreadContext } from '../modules/jobs/job-thread';
import type { JobProgress } from '../modules/jobs/job.entity';
import type { TrainingJobResult, TrainingJobSpec } from '../modules/training/training-spec';

export interface TrainingThreadInput {
  spec: TrainingJobSpec;
  backend?: string;
}

function toJobProgress(event: ProgressEvent): JobProgress {
  // A checkpoint changes nothing else of the progress: only where a resume would start.
  if (event.phase === 'checkpoint') return { checkpoint: event.checkpoint };
  if (event.phase === 'resume') {
    return {
      phase: event.phase,
      epoch: event.epoch,
      epochs: event.epochs,
      step: event.step,
      total: event.totalSteps,
      message: event.message,
      resumedFrom: event.resumedFrom ?? null,
    };
  }
  return {
    phase: event.phase,
    epoch: event.epoch,
    epochs: event.epochs,
    step: event.step,
    total: event.totalSteps,
    loss: event.loss,
    imagesPerSecond: event.imagesPerSecond,
    etaSeconds: event.etaSeconds,
    message: event.message,
  };
}

/** R@1 of held-out queries before and after the ES attack (RobRank's ES:R) at the job's eps. */
async function quickRobustness(
  modelDir: string,
  test: ImageSet,
  spec: TrainingJobSpec,
): Promise<Record<string, unknown>> {
  const model = await loadModel(modelDir);
  const gallery = prepareGallery(model, test);
  try {
    const rows = sampleQueries(
      gallery,
      Math.min(spec.robustness.samples, test.labels.length),
      spec.seed,
    );
    const eps = spec.defenseOptions.eps;
    const naturalR1 = naturalRecallAt1(gallery, rows);
    // n, 95% interval (Wilson) and the chance level of each R@1 (percent).
    const chance = chanceLevels(gallery.labels, rows);
    const natural = naturalRecallEstimate(naturalRecallPerQuery(gallery, rows), chance);
    if (eps === 0 || rows.length === 0) {
      return {
        attack: 'ES',
        eps,
        samples: rows.length,
        naturalRecallAt1: naturalR1,
        recallAt1UnderAttack: naturalR1,
        ...(rows.length > 0
          ? {
              chanceRecallAt1: chance.recallAt1,
              estimates: { naturalRecallAt1: natural, recallAt1UnderAttack: natural },
            }
          : {}),
      };
    }
    const steps = spec.robustness.steps;
    const run = runAttack(model, gallery, 'ES', rows, {
      eps,
      alpha: (2.5 * eps) / steps,
      steps,
      seed: spec.seed,
    });
    return {
      attack: 'ES',
      eps,
      steps,
      samples: rows.length,
      naturalRecallAt1: naturalR1,
      recallAt1UnderAttack: run.figures['ES:R'],
      embeddingShift: run.figures['ES:D'],
      chanceRecallAt1: chance.recallAt1,
      estimates: {
        naturalRecallAt1: natural,
        recallAt1UnderAttack: run.estimates['ES:R'],
        embeddingShift: run.estimates['ES:D'],
      },
    };
  } finally {
    gallery.dispose();
    model.dispose();
  }
}

async function train(raw: unknown, thread: JobThreadContext): Promise<TrainingJobResult> {
  const { spec, backend } = raw as TrainingThreadInput;
  await initBackend(backend);
  const outDir = path.join(thread.checkpointDir, 'model');
  // A rerun (attempt 2+) or a leftover checkpoint: the trainer resumes and reports from where.
  const resume = thread.attempt > 1 || (await openCheckpoint(outDir)) !== null;
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
    message: 'ES attack on the held-out classes',
    etaSeconds: undefined,
  });
  const robustness = await quickRobustness(outDir, split.test, spec);
  const manifestFile = path.join(outDir, MANIFEST_FILE);
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as {
    metrics: Record<string, unknown> | null;
  };
  manifest.metrics = { ...manifest.metrics, robustness };
  await fs.writeFile(`${manifestFile}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.rename(`${manifestFile}.tmp`, manifestFile);
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

serveJobThread(train);
