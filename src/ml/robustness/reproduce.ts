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
import { formatAttackProgress } from '../attacks/suite';
import { DEFENSE_NAMES, createDefense } from '../defenses';
import { loadDataset } from '../data';
import { loadModelVersion, readManifest } from '../model-store';
import { trainEmbeddingModel } from '../training';
import type { ProgressEvent } from '../types';
import { buildRobustnessReport, type RobustnessReport } from './report';
import { BUDGET_NAMES, type BudgetName } from './reproduce-budget';
import { budgetFor, budgetsOf } from './reproduce-budgets';

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
  // Without a manifest the checkpoint is an interrupted natural run: fine-tuning it would train the
  // rest of the natural schedule under the defence.
  if (!(await exists(path.join(naturalModelDir, 'manifest.json')))) {
    throw new Error(
      `the natural model at ${naturalModelDir} is unfinished (a checkpoint, no manifest): finish the 'none' run first`,
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
    // Finished means a manifest: a checkpoint alone may be an interrupted natural run, resumed here.
    if (!seeded && !(await exists(path.join(naturalDir, 'manifest.json')))) {
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
        onProgress: (progress) => {
          if (Date.now() - last > 30_000) {
            last = Date.now();
            log(`${label} ${formatAttackProgress(progress)}`);
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
