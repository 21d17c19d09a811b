/**
 * The reproduction of the seed paper's claim: every defence trained on every data set under a stated
 * budget, then attacked with the whole suite. Each run lives in OUT/<dataset>/<defence>/ (model version,
 * training checkpoints, report.json); a run whose report exists is skipped, a half-trained one resumes
 * from its last checkpoint, so the whole thing can be stopped and restarted at any time.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ATTACK_NAMES } from '../attacks/definitions';
import { DEFENSE_NAMES, createDefense, type DefenseOptions } from '../defenses';
import { loadDataset } from '../data';
import { loadModelVersion, readManifest } from '../model-store';
import type { BackboneName } from '../models/embedding-model';
import { trainEmbeddingModel } from '../training';
import type { LrSchedule } from '../training/schedule';
import type { ProgressEvent } from '../types';
import { buildRobustnessReport, type RobustnessReport } from './report';
import { ROBRANK_MNIST, ROBRANK_MNIST_SMOKE } from './robrank';

export const BUDGET_NAMES = [
  'smoke',
  'small',
  'extended',
  'medium',
  'long',
  'full',
  'robrank',
] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];

export interface ReproductionBudget {
  /** The backbone and the square input size it is trained at (default: the small CNN on 28x28 grey). */
  backbone?: BackboneName;
  imageSize?: number;
  /** Embedding width (default: the trainer's, 128). */
  embeddingDim?: number;
  /** Training images (a seeded subset of the training classes), validation images, test images (gallery). */
  maxTrain: number;
  maxValidation: number;
  maxTest: number;
  batchSize: number;
  perClass: number;
  epochs: number;
  stepsPerEpoch: number;
  learningRate: number;
  /** Learning-rate schedule of the training from scratch (default cosine; fine-tuning is constant). */
  schedule?: LrSchedule;
  /**
   * Robust defences start from the finished `none` model of the same data set and train this many
   * steps more (adversarial fine-tuning) at a constant learning rate. Absent: every defence trains from scratch.
   */
  fineTune?: { steps: number; learningRate: number };
  training: Required<Pick<DefenseOptions, 'eps' | 'steps' | 'alpha' | 'weight'>>;
  evaluation: {
    eps: number;
    alpha: number;
    steps: number;
    restarts: number;
    sampleSize: number;
    targetedStepFactor: number;
  };
}

/** Budgets `medium` and above attack at least this many queries (smaller ones print that their intervals are wide). */
export const MIN_QUERIES_MEDIUM = 1000;

/** The published MNIST attack (docs/METHOD.md §2); budgets differ in how many queries they attack. */
const MNIST_EVALUATION = {
  eps: 77 / 255,
  alpha: 3 / 255,
  steps: 32,
  restarts: 1,
  targetedStepFactor: 2,
};

// Sized for two CPU cores shared with other work (about 90 minutes for four defences).
const MNIST_SMALL: ReproductionBudget = {
  maxTrain: 6000,
  maxValidation: 300,
  maxTest: 1000,
  batchSize: 40,
  perClass: 8,
  epochs: 2,
  stepsPerEpoch: 50,
  learningRate: 1e-3,
  fineTune: { steps: 30, learningRate: 5e-4 },
  training: { eps: 0.3, steps: 2, alpha: 0.3, weight: 1 },
  evaluation: { ...MNIST_EVALUATION, sampleSize: 30 },
};

// Past the loss plateau (docs/METHOD.md §8: 250-400 iterations) for the natural model: 300 natural
// iterations of 100 images, then 100 robust iterations each, and 1,000 attacked queries (a rate's 95%
// interval is then at most about +-3 points; 100 queries gave +-10).
const MNIST_MEDIUM: ReproductionBudget = {
  maxTrain: 30000,
  maxValidation: 500,
  maxTest: 2000,
  batchSize: 100,
  perClass: 20,
  epochs: 3,
  stepsPerEpoch: 100,
  learningRate: 1e-3,
  fineTune: { steps: 100, learningRate: 5e-4 },
  training: { eps: 0.3, steps: 2, alpha: 0.3, weight: 1 },
  evaluation: { ...MNIST_EVALUATION, sampleSize: MIN_QUERIES_MEDIUM },
};

/**
 * RGB data sets (iconify, emoji): the ImageNet-initialised MobileNetV2 fine-tuned at 32x32, training eps
 * 8/255 and the published RGB attack (eps 8/255, alpha 3/255, 32 steps; docs/METHOD.md §2). Sized
 * for about half an hour per data set and defence on one shared core.
 */
const RGB_EVALUATION = {
  eps: 8 / 255,
  alpha: 3 / 255,
  steps: 32,
  restarts: 1,
  targetedStepFactor: 2,
};

const RGB_SMALL: ReproductionBudget = {
  backbone: 'mobilenetv2',
  imageSize: 32,
  maxTrain: 4000,
  maxValidation: 200,
  maxTest: 1000,
  batchSize: 32,
  perClass: 4,
  epochs: 2,
  stepsPerEpoch: 60,
  learningRate: 1e-4,
  fineTune: { steps: 60, learningRate: 5e-5 },
  training: { eps: 8 / 255, steps: 3, alpha: 4 / 255, weight: 1 },
  evaluation: { ...RGB_EVALUATION, sampleSize: 50 },
};

const RGB_SMOKE: ReproductionBudget = {
  ...RGB_SMALL,
  maxTrain: 120,
  maxValidation: 12,
  maxTest: 40,
  batchSize: 12,
  perClass: 3,
  epochs: 1,
  stepsPerEpoch: 2,
  fineTune: { steps: 2, learningRate: 5e-5 },
  training: { eps: 8 / 255, steps: 2, alpha: 4 / 255, weight: 1 },
  evaluation: { ...RGB_EVALUATION, steps: 2, sampleSize: 4 },
};

/** The RGB data sets have two budgets so far: `smoke` and `small`. */
const RGB_BUDGETS: Partial<Record<BudgetName, ReproductionBudget>> = {
  smoke: RGB_SMOKE,
  small: RGB_SMALL,
};

/** Budgets per data set. MNIST: eps 77/255, alpha 3/255, 32 steps at evaluation (docs/METHOD.md §2). */
export const BUDGETS: Record<string, Partial<Record<BudgetName, ReproductionBudget>>> = {
  iconify: RGB_BUDGETS,
  // An emoji has one image per vendor: a random 1,000 of the 5,143 test images left about two per
  // emoji, so the gallery is the whole test split (attacks still use `sampleSize` queries).
  emoji: { ...RGB_BUDGETS, small: { ...RGB_SMALL, maxTest: 6000 } },
  mnist: {
    // Checks the pipeline end to end in a few minutes; its numbers mean nothing.
    smoke: {
      maxTrain: 400,
      maxValidation: 50,
      maxTest: 200,
      batchSize: 20,
      perClass: 4,
      epochs: 1,
      stepsPerEpoch: 2,
      learningRate: 1e-3,
      fineTune: { steps: 2, learningRate: 5e-4 },
      training: { eps: 0.3, steps: 2, alpha: 0.3, weight: 1 },
      evaluation: {
        eps: 77 / 255,
        alpha: 3 / 255,
        steps: 2,
        restarts: 1,
        sampleSize: 4,
        targetedStepFactor: 2,
      },
    },
    small: MNIST_SMALL,
    // `small` with three times the adversarial fine-tuning (the undefended model is the same).
    extended: { ...MNIST_SMALL, fineTune: { steps: 90, learningRate: 5e-4 } },
    medium: MNIST_MEDIUM,
    // `medium`'s natural model, then three times the robust fine-tuning with the published inner attack
    // strength (7 PGD steps of 0.1 at eps 0.3, docs/METHOD.md §8): does the fold grow with
    // the robust budget? About 35 minutes per robust defence on one idle core.
    long: {
      ...MNIST_MEDIUM,
      fineTune: { steps: 300, learningRate: 5e-4 },
      training: { eps: 0.3, steps: 7, alpha: 0.1, weight: 1 },
    },
    full: {
      maxTrain: 30000,
      maxValidation: 1000,
      maxTest: 4861,
      batchSize: 125,
      perClass: 25,
      epochs: 12,
      stepsPerEpoch: 61,
      learningRate: 1e-3,
      training: { eps: 0.3, steps: 7, alpha: 0.1, weight: 1 },
      evaluation: {
        eps: 77 / 255,
        alpha: 3 / 255,
        steps: 32,
        restarts: 1,
        sampleSize: MIN_QUERIES_MEDIUM,
        targetedStepFactor: 3,
      },
    },
  },
  // RobRank's MNIST protocol: all ten digits, train split against test split, C2F2 (robrank.ts).
  'mnist-all': { smoke: ROBRANK_MNIST_SMOKE, robrank: ROBRANK_MNIST },
};

export const DEFAULT_DEFENSES = ['none', 'panum', 'est', 'naive', 'act', 'hm'];

export interface ReproduceOptions {
  datasets: string[];
  defenses: string[];
  outDir: string;
  budget: BudgetName;
  seed?: number;
  /**
   * Train and attack every configuration once per seed. The first seed's runs live in OUT/<dataset>/<defence>
   * (where a single --seed run puts them), the others' in OUT/seed-<s>/<dataset>/<defence>.
   */
  seeds?: number[];
  log?: (line: string) => void;
}

/** The seeds a reproduction runs: --seeds, else --seed, else 0. */
export function seedsOf(options: ReproduceOptions): number[] {
  return options.seeds && options.seeds.length > 0 ? options.seeds : [options.seed ?? 0];
}

/** The options of one seed's runs (its own output folder unless it is the first seed). */
export function optionsForSeed(options: ReproduceOptions, seed: number): ReproduceOptions {
  const first = seedsOf(options)[0];
  return {
    ...options,
    seed,
    seeds: undefined,
    outDir: seed === first ? options.outDir : path.join(options.outDir, `seed-${seed}`),
  };
}

export interface RunRecord {
  dataset: string;
  defense: string;
  /** The seed of training, data subsets, queries and attacks (absent in records written before seeds). */
  seed?: number;
  report: RobustnessReport;
  trainingSeconds: number;
  /** When the model version was written (end of its training). */
  trainedAt: string;
  trainingConfig: Record<string, unknown>;
  defenseConfig: Record<string, unknown>;
  naturalTestMetrics: Record<string, unknown>;
  /** The trained weights' hash from the manifest (absent in summaries recovered from an older page). */
  weightsSha256?: string;
}

/** The budgets of one data set; throws naming the data sets that have budgets. */
function budgetsOf(dataset: string): Partial<Record<BudgetName, ReproductionBudget>> {
  const budgets = BUDGETS[dataset];
  if (!budgets)
    throw new Error(
      `no reproduction budget for data set '${dataset}' (budgets exist for ${Object.keys(BUDGETS).join(', ')})`,
    );
  return budgets;
}

/** The budget of one data set; throws naming the budgets it has. */
export function budgetFor(dataset: string, name: BudgetName): ReproductionBudget {
  const budgets = budgetsOf(dataset);
  const budget = budgets[name];
  if (!budget)
    throw new Error(
      `data set '${dataset}' has no '${name}' budget (it has ${Object.keys(budgets).join(', ')})`,
    );
  return budget;
}

/** Checks names and budgets before anything is trained. */
export function validateReproduce(options: ReproduceOptions): void {
  if (options.datasets.length === 0) throw new Error('no data set given');
  for (const dataset of options.datasets) budgetsOf(dataset);
  if (!(BUDGET_NAMES as readonly string[]).includes(options.budget)) {
    throw new Error(
      `budget must be ${BUDGET_NAMES.slice(0, -1).join(', ')} or ${BUDGET_NAMES[BUDGET_NAMES.length - 1]} (got '${String(options.budget)}')`,
    );
  }
  for (const dataset of options.datasets) budgetFor(dataset, options.budget);
  for (const defense of options.defenses) {
    createDefense(defense, budgetFor(options.datasets[0], options.budget).training); // throws on an unknown name
  }
  if (options.defenses.length === 0)
    throw new Error(`no defence given (known: ${DEFENSE_NAMES.join(', ')})`);
  const seeds = seedsOf(options);
  for (const seed of seeds) {
    if (!Number.isInteger(seed) || seed < 0)
      throw new Error(`seeds must be non-negative integers (got ${seed})`);
  }
  if (new Set(seeds).size !== seeds.length)
    throw new Error(`seeds must be distinct (got ${seeds.join(',')})`);
}

/**
 * Starts a robust run from the natural model's last checkpoint (weights, Adam state, step count), so that
 * the trainer resumes it for one more epoch under the defence. The best-epoch record is cleared: the
 * delivered model must be the fine-tuned one, not the natural epoch with the higher validation R@1.
 */
async function seedFromNatural(naturalModelDir: string, modelDir: string): Promise<void> {
  const target = path.join(modelDir, 'checkpoint');
  if (await exists(path.join(target, 'state.json'))) return; // already seeded (or resumed mid fine-tuning)
  const source = path.join(naturalModelDir, 'checkpoint');
  if (!(await exists(path.join(source, 'state.json')))) {
    throw new Error(
      `fine-tuning needs the natural model's checkpoint at ${source}: run the 'none' defence first`,
    );
  }
  await fs.mkdir(target, { recursive: true });
  for (const file of await fs.readdir(source)) {
    if (file === 'best' || file === 'state.json') continue;
    await fs.copyFile(path.join(source, file), path.join(target, file));
  }
  const state = JSON.parse(await fs.readFile(path.join(source, 'state.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const seeded = {
    ...state,
    bestValidationRecallAt1: null,
    bestEpoch: -1,
    warmStartedFrom: naturalModelDir,
  };
  await fs.writeFile(path.join(target, 'state.json'), `${JSON.stringify(seeded, null, 2)}\n`); // last: marks the copy complete
}

async function exists(file: string): Promise<boolean> {
  return fs
    .access(file)
    .then(() => true)
    .catch(() => false);
}

function progressLogger(
  log: (line: string) => void,
  label: string,
): (event: ProgressEvent) => void {
  let last = 0;
  return (event) => {
    const now = Date.now();
    if (event.phase === 'train' && now - last < 30_000 && event.step !== event.totalSteps) return;
    last = now;
    const loss = event.loss === undefined ? '' : ` loss ${event.loss.toFixed(4)}`;
    const speed =
      event.imagesPerSecond === undefined ? '' : ` ${event.imagesPerSecond.toFixed(0)} img/s`;
    log(
      `${label} ${event.phase} ${event.step}/${event.totalSteps}${loss}${speed}${event.message ? ` ${event.message}` : ''}`,
    );
  };
}

/** What a finished run records beside its report.json, so the page can be rebuilt without the weights. */
export type RunSummary = Omit<RunRecord, 'dataset' | 'defense' | 'report'>;

/**
 * Trains one defence's model unless its manifest exists (resuming from its checkpoint when there is
 * one). A robust defence fine-tunes the natural model, which is trained first when its checkpoint is
 * missing (on a fresh clone only the reports and run summaries are committed).
 */
async function ensureTrained(
  dataset: string,
  defense: string,
  options: ReproduceOptions,
): Promise<string> {
  const log = options.log ?? (() => undefined);
  const budget = budgetFor(dataset, options.budget);
  const seed = options.seed ?? 0;
  const modelDir = path.join(options.outDir, dataset, defense, 'model');
  const label = `[${dataset}/${defense}]`;
  if (await exists(path.join(modelDir, 'manifest.json'))) {
    log(`${label} model exists, training skipped`);
    return modelDir;
  }
  const fineTune = defense !== 'none' ? budget.fineTune : undefined;
  if (fineTune) {
    const naturalDir = path.join(options.outDir, dataset, 'none', 'model');
    const seeded = await exists(path.join(modelDir, 'checkpoint', 'state.json'));
    if (!seeded && !(await exists(path.join(naturalDir, 'checkpoint', 'state.json')))) {
      log(`${label} needs the natural model's checkpoint: training it first`);
      await ensureTrained(dataset, 'none', options);
      await checkSameNaturalModel(path.join(options.outDir, dataset, 'none'), log);
    }
    await seedFromNatural(naturalDir, modelDir);
  }
  const epochs = fineTune ? budget.epochs + 1 : budget.epochs;
  log(
    fineTune
      ? `${label} adversarial fine-tuning of the natural model (${fineTune.steps} steps, batch ${budget.batchSize})`
      : `${label} training (${budget.epochs} x ${budget.stepsPerEpoch} steps, batch ${budget.batchSize})`,
  );
  await trainEmbeddingModel(
    {
      dataset,
      outDir: modelDir,
      resume: await exists(path.join(modelDir, 'checkpoint', 'state.json')),
      backbone: budget.backbone ?? 'small-cnn',
      imageSize: budget.imageSize,
      embeddingDim: budget.embeddingDim,
      defense,
      defenseOptions: { ...budget.training, seed },
      batchSize: budget.batchSize,
      perClass: budget.perClass,
      epochs,
      stepsPerEpoch: fineTune ? fineTune.steps : budget.stepsPerEpoch,
      learningRate: fineTune ? fineTune.learningRate : budget.learningRate,
      schedule: fineTune ? 'constant' : (budget.schedule ?? 'cosine'),
      maxTrain: budget.maxTrain,
      maxValidation: budget.maxValidation,
      maxTest: budget.maxTest,
      seed,
    },
    { onProgress: progressLogger(log, label) },
  );
  return modelDir;
}

/**
 * The natural model trained again for a new defence should be the one whose report is committed
 * (training is seeded); says so loudly when it is not, since the new defence then starts elsewhere.
 */
async function checkSameNaturalModel(runDir: string, log: (line: string) => void): Promise<void> {
  const summaryFile = path.join(runDir, 'run.json');
  if (!(await exists(summaryFile))) return;
  const committed = (await readJson<RunSummary>(summaryFile)).weightsSha256;
  const now = (await readManifest(path.join(runDir, 'model'))).weightsSha256;
  if (committed && committed !== now)
    log(
      `warning: the natural model trained again (weights sha256 ${now}) differs from the one in ${summaryFile} (${committed}); fine-tuning starts from the new one`,
    );
  else if (committed) log(`natural model trained again: weights identical to ${summaryFile}`);
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/**
 * Trains (or resumes, or skips) one defence on one data set, then attacks it (or reads its report).
 * A run with both report.json and run.json is finished: it is read back and nothing is trained.
 */
export async function reproduceRun(
  dataset: string,
  defense: string,
  options: ReproduceOptions,
): Promise<RunRecord> {
  const log = options.log ?? (() => undefined);
  const budget = budgetFor(dataset, options.budget);
  const seed = options.seed ?? 0;
  const runDir = path.join(options.outDir, dataset, defense);
  const reportFile = path.join(runDir, 'report.json');
  const summaryFile = path.join(runDir, 'run.json');
  const label = `[${dataset}/${defense}]`;
  if ((await exists(reportFile)) && (await exists(summaryFile))) {
    log(`${label} finished earlier: report and run summary reused`);
    const report = await readJson<RobustnessReport>(reportFile);
    return { dataset, defense, seed, report, ...(await readJson<RunSummary>(summaryFile)) };
  }
  const modelDir = await ensureTrained(dataset, defense, options);
  const manifest = await readManifest(modelDir);
  let report: RobustnessReport;
  if (await exists(reportFile)) {
    log(`${label} report exists, attacks skipped`);
    report = await readJson<RobustnessReport>(reportFile);
  } else {
    log(
      `${label} attacking (${budget.evaluation.sampleSize} queries, all ${ATTACK_NAMES.length} attacks + strength check)`,
    );
    const { model } = await loadModelVersion(modelDir);
    try {
      const [height, width, channels] = model.inputShape;
      const split = await loadDataset(dataset, {
        seed,
        imageSize: { height, width, channels: channels as 1 | 3 },
        maxTrain: 0,
        maxValidation: 0,
        maxTest: budget.maxTest,
      });
      let last = 0;
      report = buildRobustnessReport(model, split.test, {
        attacks: [...ATTACK_NAMES],
        ...budget.evaluation,
        seed,
        model: `${dataset}/${defense} ${manifest.id}`,
        dataset,
        onProgress: (message) => {
          if (Date.now() - last > 30_000) {
            last = Date.now();
            log(`${label} ${message}`);
          }
        },
      });
    } finally {
      model.dispose();
    }
    await fs.writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
    log(
      `${label} done: natural R@1 ${report.natural.recallAt1.toFixed(1)}, ES:R ${report.figures['ES:R']?.toFixed(1)}, ERS ${report.ers?.toFixed(1)}`,
    );
  }
  const metrics = (manifest.metrics ?? {}) as Record<string, unknown>;
  const summary: RunSummary = {
    trainingSeconds: Number(metrics.durationSeconds ?? NaN),
    trainedAt: manifest.createdAt,
    trainingConfig: manifest.training ?? {},
    defenseConfig: manifest.defense?.config ?? {},
    naturalTestMetrics: metrics,
    weightsSha256: manifest.weightsSha256,
  };
  await fs.writeFile(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  return { dataset, defense, seed, report, ...summary };
}

export interface MachineDescription {
  cpus: string;
  cores: number;
  memoryGiB: number;
  node: string;
  backend: string;
}

export function describeMachine(backend: string): MachineDescription {
  const cpus = os.cpus();
  return {
    cpus: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    backend,
  };
}
