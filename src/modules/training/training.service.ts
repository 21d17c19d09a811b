import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
} from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';
import { APP_CONFIG, AppConfig } from '../../config';
import { resolveDefenseOptions, type DefenseName } from '../../ml/defenses/options';
import { CHECKPOINT_DIR, checkpointPosition, openCheckpoint } from '../../ml/training/checkpoint';
import {
  checkClassesPerBatch,
  checkTrainingConfig,
  checkTrainingData,
} from '../../ml/training/config';
import type { TrainingJobInput } from '../../workers/training.worker';
import { runThread, ThreadCancelledError, workerEntry } from '../../workers/thread';
import { Job, JobAcceptedDto, JobContext, JobProgress, JobRunner, JobsService } from '../jobs';
import { defaultModelName } from '../models/model-name';
import { ModelRegistryService } from '../models/model-registry.service';
import { resolveDatasetSpec } from './dataset-location';
import { CreateTrainingJobDto } from './dto/create-training-job.dto';
import { GalleryDataset } from './gallery-dataset';
import type { TrainingJobResult, TrainingJobSpec } from './training-spec';
import { toTrainingJobView, TrainingJobViewDto } from './training-job.view';
import type { Page } from '../../common/paging';

export const TRAINING_JOB = 'training';
const WORKERS_DIR = path.join(__dirname, '..', '..', 'workers');
/** Fewest labelled classes the gallery needs: half train, half held out, two per batch at least. */
const MIN_GALLERY_CLASSES = 4;
/** The sampler's m when a request names none, per data set (others: 8). */
const DEFAULT_PER_CLASS: ReadonlyMap<string, number> = new Map([
  ['mnist', 32],
  ['mnist-all', 16],
]);

/**
 * Admin-triggered (robust) retraining: validates a request into a TrainingJobSpec, queues it, and,
 * in worker processes, runs it in a worker thread and registers the resulting model version.
 */
@Injectable()
export class TrainingService implements OnModuleInit {
  private readonly logger = new Logger(TrainingService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsService,
    private readonly runner: JobRunner,
    private readonly registry: ModelRegistryService,
    private readonly gallery: GalleryDataset,
  ) {}

  onModuleInit(): void {
    this.jobs.registerHandler(TRAINING_JOB, (job, ctx) => this.run(job, ctx));
  }

  async create(dto: CreateTrainingJobDto): Promise<JobAcceptedDto> {
    const spec = await this.validate(dto);
    const job = await this.jobs.enqueue(TRAINING_JOB, spec as unknown as Record<string, unknown>);
    this.runner.poke();
    return { id: job.id, status: job.status };
  }

  async get(id: string): Promise<TrainingJobViewDto> {
    return toTrainingJobView(await this.jobs.get(id, TRAINING_JOB));
  }

  async list(
    status: Job['status'] | undefined,
    page: number,
    limit: number,
  ): Promise<Page<TrainingJobViewDto>> {
    const jobs = await this.jobs.list({ type: TRAINING_JOB, status }, page, limit);
    return { ...jobs, items: jobs.items.map(toTrainingJobView) };
  }

  async cancel(id: string): Promise<TrainingJobViewDto> {
    return toTrainingJobView(await this.jobs.cancel(id, TRAINING_JOB));
  }

  /** Every check that can fail before training starts, so a bad request creates no job. */
  async validate(dto: CreateTrainingJobDto): Promise<TrainingJobSpec> {
    const defense = dto.defense ?? 'none';
    const params = dto.defenseParams ?? {};
    // MNIST's 5 training classes fit 4 classes of 32 in a default batch, mnist-all's 10 fit 8 of 16;
    // other data, 16 of 8.
    const perClass = dto.perClass ?? DEFAULT_PER_CLASS.get(dto.dataset) ?? 8;
    const batchSize = dto.batchSize ?? 128;
    const defenseOptions = { eps: params.eps, steps: params.steps, alpha: params.stepSize };
    const inner = { inner: dto.inner, freeReplays: dto.freeReplays, onOverfit: dto.onOverfit };
    // The rules of a training run, as `rir train` and the trainer apply them (src/ml/training/config.ts).
    await badRequestOnError(() =>
      checkTrainingConfig({
        dataset: dto.dataset,
        backbone: dto.backbone,
        trainBackbone: dto.trainBackbone,
        embeddingDim: dto.embeddingDim,
        loss: dto.loss,
        defense,
        defenseOptions: definedOnly({ ...defenseOptions, weight: params.weight }),
        ...inner,
        epochs: dto.epochs,
        batchSize,
        perClass,
        learningRate: dto.learningRate,
        seed: dto.seed,
        stepsPerEpoch: dto.stepsPerEpoch,
        checkpointEverySteps: dto.checkpointEverySteps,
        checkpointEveryMinutes: dto.checkpointEveryMinutes,
      }),
    );
    // The defaults it filled in (eps, steps), for the job's spec.
    const resolved = resolveDefenseOptions(defense as DefenseName, { ...defenseOptions, ...inner });
    let dataset: string;
    if (dto.dataset === 'gallery') {
      const classes = await this.gallery.classCount();
      if (classes < MIN_GALLERY_CLASSES) {
        throw new BadRequestException(
          `the gallery has ${classes} labels with at least 2 images; training on it needs ${MIN_GALLERY_CLASSES}`,
        );
      }
      dataset = 'gallery';
      // Exported as a folder: one sub-folder per label, the first half of them trains.
      await badRequestOnError(() =>
        checkClassesPerBatch(batchSize, perClass, Math.ceil(classes / 2), dto.dataset),
      );
    } else {
      dataset = await resolveDatasetSpec(dto.dataset, this.config.dataRoots);
      // The batch needs batchSize / perClass training classes: a request that can never run is refused.
      await badRequestOnError(() =>
        checkTrainingData({ dataset, batchSize, perClass }, dto.dataset),
      );
    }
    // (null counts as absent, as @IsOptional lets it through)
    if (dto.name != null && (await this.registry.nameTaken(dto.name)))
      throw new ConflictException(`another model is already named '${dto.name}'`);
    return {
      datasetName: dto.dataset,
      dataset,
      name: dto.name ?? defaultModelName(dto.dataset, defense, new Date()),
      backbone: dto.backbone ?? 'small-cnn',
      ...(dto.trainBackbone ? { trainBackbone: true } : {}),
      imageSize: dto.imageSize,
      embeddingDim: dto.embeddingDim ?? 128,
      loss: dto.loss ?? 'triplet',
      defense,
      defenseOptions: {
        eps: resolved.eps,
        steps: resolved.steps,
        alpha: params.stepSize,
        weight: params.weight,
      },
      inner: dto.inner,
      freeReplays: dto.freeReplays,
      onOverfit: dto.onOverfit,
      epochs: dto.epochs ?? 5,
      batchSize,
      perClass,
      learningRate: dto.learningRate ?? 1e-3,
      seed: dto.seed ?? 0,
      stepsPerEpoch: dto.stepsPerEpoch,
      maxTrain: dto.maxTrainImages,
      maxValidation: dto.maxValidationImages,
      maxTest: dto.maxTestImages,
      robustness: { samples: dto.robustnessSamples ?? 100, steps: dto.robustnessSteps ?? 10 },
      checkpointEverySteps: dto.checkpointEverySteps,
      checkpointEveryMinutes: dto.checkpointEveryMinutes,
    };
  }

  /** The job handler (worker role): train in a thread, then register the model version. */
  private async run(job: Job, ctx: JobContext): Promise<TrainingJobResult> {
    const spec = { ...(job.payload as unknown as TrainingJobSpec) };
    if (spec.datasetName === 'gallery') {
      const dir = path.join(ctx.checkpointDir, 'gallery-data');
      // A resumed run trains on the images the first run exported.
      const exported = await fs.stat(dir).then(
        () => true,
        () => false,
      );
      if (!exported || ctx.attempt === 1) await this.gallery.export(this.config.dataDir, dir);
      spec.dataset = `folder:${dir}`;
    }
    let result: TrainingJobResult;
    // The log says where a rerun really resumed (the queue only knows that it was requeued).
    const reportProgress = (progress: JobProgress): void => {
      if (progress.phase === 'resume')
        this.logger.log(`training job ${job.id} attempt ${ctx.attempt}: ${progress.message}`);
      ctx.reportProgress(progress);
    };
    try {
      result = await runThread<TrainingJobResult, JobProgress>(
        workerEntry(WORKERS_DIR, 'training.worker'),
        {
          kind: 'job',
          spec,
          backend: this.config.tfjsBackend,
          jobId: job.id,
          checkpointDir: ctx.checkpointDir,
          attempt: ctx.attempt,
        } satisfies TrainingJobInput,
        { signal: ctx.signal, nice: ctx.threadNice, onProgress: reportProgress },
      );
    } catch (error) {
      if (!(error instanceof ThreadCancelledError)) throw error;
      // The thread was stopped mid-step (maybe mid-write): what it kept is its last checkpoint.
      const kept = await openCheckpoint(path.join(ctx.checkpointDir, 'model'));
      return {
        cancelled: true,
        epochsCompleted: kept?.epoch ?? 0,
        checkpoint: kept ? checkpointPosition(kept) : undefined,
        checkpointDir: kept ? path.join(ctx.checkpointDir, 'model', CHECKPOINT_DIR) : undefined,
      };
    }
    if (result.cancelled || !result.modelDir) return result;
    const modelId = `train-${job.id}`;
    const target = path.join(this.registry.modelsDir, modelId);
    await copyModelVersion(result.modelDir, path.join(ctx.checkpointDir, 'staging'), target);
    const { name } = await this.registry.registerDirectory(
      target,
      modelId,
      spec.name ?? defaultModelName(spec.datasetName, spec.defense, new Date()),
    );
    this.logger.log(`training job ${job.id} registered model ${modelId} as '${name}'`);
    return { ...result, modelId, modelName: name, modelDir: target };
  }
}

/** The values that are set (a request's optional numbers). */
function definedOnly(values: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Record<
    string,
    number
  >;
}

/** Runs a check of the ML core: its error (a message about the request's data) becomes a 400. */
async function badRequestOnError(check: () => void | Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    throw new BadRequestException((error as Error).message);
  }
}

/**
 * Copies the model files (not the checkpoints) into place through a staging directory outside
 * DATA_DIR/models (so the registry's scan never sees a half-copied version) and a rename.
 */
async function copyModelVersion(from: string, staging: string, to: string): Promise<void> {
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true });
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    if (entry.isFile())
      await fs.copyFile(path.join(from, entry.name), path.join(staging, entry.name));
  }
  await fs.rm(to, { recursive: true, force: true });
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.rename(staging, to);
}
