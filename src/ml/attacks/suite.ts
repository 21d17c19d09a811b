/**
 * Runs attacks of the suite over a sample of queries drawn from a clean gallery, batch by batch, with
 * the one PGD engine, and returns per-attack figures plus the sanity figures of each run.
 */
import * as tf from '@tensorflow/tfjs';
import { readLater, readNow, type Reads } from '../backend/reads';
import { embedAll, embedAllSteps } from '../metrics';
import {
  chanceLevels,
  estimateFigures,
  type ChanceLevels,
  type FigureEstimate,
} from '../robustness/estimates';
import type { Embedder, ImageSet } from '../types';
import { ATTACKS, AttackGallery, AttackName, MetricName, mean, recallAt1 } from './definitions';
import { EmbeddingTable, ranking } from '../distances';
import { PgdOptions, StepSchedule, pgdResultOf, pgdTensors, validatePgdOptions } from './pgd';
import { SeededRandom, sampleDistinct } from './random';

/** One batch of an attack done: `done` of its `total` queries attacked. */
export interface AttackProgress {
  attack: AttackName;
  done: number;
  total: number;
}

/** The progress line the CLI and logs print ("ES: 40/200"). */
export function formatAttackProgress(progress: AttackProgress): string {
  return `${progress.attack}: ${progress.done}/${progress.total}`;
}

export interface AttackSuiteOptions {
  eps: number;
  alpha: number;
  steps: number;
  restarts?: number;
  norm?: 'linf' | 'l2';
  /** Random start for the first restart (ES always starts at random). */
  randomStart?: boolean;
  /** Queries (and candidates) attacked; the gallery is the whole evaluation set. */
  sampleSize?: number;
  seed?: number;
  batchSize?: number;
  queriesPerCandidate?: number;
  candidatesPerQuery?: number;
  /** Targeted attacks (TMA, GTM) run `factor` times the steps at alpha / factor with a decaying step. */
  targetedStepFactor?: number;
  targetedSchedule?: StepSchedule;
  /** Momentum PGD (MI-FGSM) with this decay instead of plain PGD (the second strength check). */
  momentum?: number;
  onProgress?: (progress: AttackProgress) => void;
}

/** The exact PGD configuration one attack ran with. */
export interface AttackConfiguration {
  eps: number;
  alpha: number;
  steps: number;
  restarts: number;
  norm: 'linf' | 'l2';
  schedule: StepSchedule;
  randomStart: boolean;
  /** Present for momentum PGD (MI-FGSM): the decay of the accumulated gradient. */
  momentum?: number;
}

export interface AttackRun {
  attack: AttackName;
  configuration: AttackConfiguration;
  figures: Partial<Record<MetricName, number>>;
  /** The same figures for the clean images (what the attack started from). */
  cleanFigures: Partial<Record<MetricName, number>>;
  /** Each figure per query, in the order of the rows attacked (`figures` are their means). */
  perQuery: Partial<Record<MetricName, number[]>>;
  cleanPerQuery: Partial<Record<MetricName, number[]>>;
  /** Every figure with its n, 95% interval and chance level (same unit as the figure). */
  estimates: Partial<Record<MetricName, FigureEstimate>>;
  cleanEstimates: Partial<Record<MetricName, FigureEstimate>>;
  /** Mean of the attack's own objective (lower = stronger attack) before and after PGD. */
  objectiveBefore: number;
  objectiveAfter: number;
  samples: number;
  maxPerturbation: number;
  zeroGradientShare: number;
  nonFiniteGradientShare: number;
  /** Each attacked sample, in the order of the rows (only with `keepSamples`). */
  attacked?: AttackedSample[];
}

/** One attacked query (or candidate) as runAttack measured it: what a probe shows beyond the means. */
export interface AttackedSample {
  row: number;
  targets: number[];
  /** H*W*C pixels in [0,1]. */
  adversarial: Float32Array;
  embedding: Float32Array;
  figures: Partial<Record<MetricName, number>>;
}

export interface RunAttackOptions extends AttackSuiteOptions {
  /** Keep every sample's adversarial image, embedding, targets and figures (AttackRun.attacked). */
  keepSamples?: boolean;
}

export interface PreparedGallery extends AttackGallery {
  images: ImageSet;
  dispose(): void;
}

/** Embeds every image of `images` in inference mode, in batches. */
export function embedImages(embedder: Embedder, images: ImageSet, batchSize = 256): EmbeddingTable {
  assertCompatible(embedder, images);
  return new EmbeddingTable(embedAll(embedder, images, batchSize), embedder.embeddingDim);
}

export function assertCompatible(embedder: Embedder, images: ImageSet): void {
  const expected = embedder.inputShape.join('x');
  const actual = images.shape.join('x');
  if (expected !== actual) {
    throw new Error(
      `model input shape ${expected} does not match the data set's image shape ${actual}`,
    );
  }
  if (
    images.images.length !==
    images.labels.length * images.shape[0] * images.shape[1] * images.shape[2]
  ) {
    throw new Error(
      `image buffer holds ${images.images.length} values, expected ${images.labels.length} x ${actual}`,
    );
  }
}

export function prepareGallery(embedder: Embedder, images: ImageSet): PreparedGallery {
  return readNow(prepareGallerySteps(embedder, images));
}

/** prepareGallery reading the embeddings back asynchronously: on every backend, webgpu included. */
export function prepareGalleryAsync(
  embedder: Embedder,
  images: ImageSet,
): Promise<PreparedGallery> {
  return readLater(prepareGallerySteps(embedder, images));
}

export function* prepareGallerySteps(embedder: Embedder, images: ImageSet): Reads<PreparedGallery> {
  assertCompatible(embedder, images);
  const table = new EmbeddingTable(yield* embedAllSteps(embedder, images), embedder.embeddingDim);
  const tensor = tf.tensor2d(table.values, [table.size, table.dim]);
  const memo = new Map<number, number[]>();
  return {
    images,
    table,
    tensor,
    labels: images.labels,
    neighbours(row: number): number[] {
      let order = memo.get(row);
      if (!order) {
        order = ranking(table.distancesFrom(table.row(row)), [row]);
        memo.set(row, order);
      }
      return order;
    },
    dispose: () => tensor.dispose(),
  };
}

/** Checks every option before any work starts. */
export function validateSuiteOptions(options: AttackSuiteOptions): void {
  validatePgdOptions({
    eps: options.eps,
    alpha: options.alpha,
    steps: options.steps,
    restarts: options.restarts,
    norm: options.norm,
  });
  for (const key of [
    'sampleSize',
    'batchSize',
    'queriesPerCandidate',
    'candidatesPerQuery',
    'targetedStepFactor',
  ] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new Error(`${key} must be a positive integer (got ${value})`);
    }
  }
}

/** The query rows attacked: a seeded sample of the gallery, each with at least one same-class neighbour. */
export function sampleQueries(gallery: AttackGallery, size: number, seed: number): number[] {
  const counts = new Map<number, number>();
  for (const label of gallery.labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const eligible = [...gallery.labels.keys()].filter(
    (i) => (counts.get(gallery.labels[i]) ?? 0) > 1,
  );
  const rng = new SeededRandom(seed);
  return sampleDistinct(rng, eligible.length, size).map((i) => eligible[i]);
}

export function configurationFor(
  attack: AttackName,
  options: AttackSuiteOptions,
): AttackConfiguration {
  const definition = ATTACKS[attack];
  const factor = definition.targeted ? (options.targetedStepFactor ?? 3) : 1;
  return {
    eps: options.eps,
    alpha: options.alpha / factor,
    steps: options.steps * factor,
    restarts: options.restarts ?? 1,
    norm: options.norm ?? 'linf',
    schedule: definition.targeted ? (options.targetedSchedule ?? 'cosine') : 'constant',
    randomStart: definition.needsRandomStart || (options.randomStart ?? false),
    ...(options.momentum ? { momentum: options.momentum } : {}),
  };
}

function gatherImages(images: ImageSet, rows: number[]): tf.Tensor4D {
  const [h, w, c] = images.shape;
  const per = h * w * c;
  const buffer = new Float32Array(rows.length * per);
  rows.forEach((row, i) => buffer.set(images.images.subarray(row * per, (row + 1) * per), i * per));
  return tf.tensor4d(buffer, [rows.length, h, w, c]);
}

/** Runs one attack over `rows` and returns its figures and sanity figures. */
export function runAttack(
  embedder: Embedder,
  gallery: PreparedGallery,
  attack: AttackName,
  rows: number[],
  options: RunAttackOptions,
): AttackRun {
  return readNow(runAttackSteps(embedder, gallery, attack, rows, options));
}

/** runAttack reading values back asynchronously: on every backend, webgpu included. */
export function runAttackAsync(
  embedder: Embedder,
  gallery: PreparedGallery,
  attack: AttackName,
  rows: number[],
  options: RunAttackOptions,
): Promise<AttackRun> {
  return readLater(runAttackSteps(embedder, gallery, attack, rows, options));
}

/** runAttack as steps that yield what they read back (src/ml/backend/reads.ts). */
export function* runAttackSteps(
  embedder: Embedder,
  gallery: PreparedGallery,
  attack: AttackName,
  rows: number[],
  options: RunAttackOptions,
): Reads<AttackRun> {
  const definition = ATTACKS[attack];
  const configuration = configurationFor(attack, options);
  const seed = options.seed ?? 0;
  const rng = new SeededRandom(seed * 31 + attack.length * 7 + attack.charCodeAt(0));
  const targetOptions = {
    queriesPerCandidate: options.queriesPerCandidate ?? 1,
    candidatesPerQuery: options.candidatesPerQuery ?? 1,
  };
  const [h, w, c] = gallery.images.shape;
  const per = h * w * c;
  const dim = embedder.embeddingDim;
  const perSample = new Map<MetricName, number[]>();
  const perSampleClean = new Map<MetricName, number[]>();
  const attacked: AttackedSample[] = [];
  let objectiveBefore = 0;
  let objectiveAfter = 0;
  let maxPerturbation = 0;
  let zero = 0;
  let nonFinite = 0;
  let total = 0;
  const collect = (
    into: Map<MetricName, number[]>,
    figures: Partial<Record<MetricName, number>>,
  ): void => {
    for (const [metric, value] of Object.entries(figures) as [MetricName, number][]) {
      const values = into.get(metric);
      if (values) values.push(value);
      else into.set(metric, [value]);
    }
  };
  const batchSize = options.batchSize ?? 100;
  for (let start = 0; start < rows.length; start += batchSize) {
    const chunk = rows.slice(start, start + batchSize);
    const targets = chunk.map((row) => definition.targets(gallery, row, rng, targetOptions));
    const objective = definition.objective(gallery, chunk, targets);
    const x0 = gatherImages(gallery.images, chunk);
    let adversarial: tf.Tensor4D | null = null;
    try {
      const pgdOptions: PgdOptions = { ...configuration, keepBest: true, seed: seed + start };
      const run = pgdTensors(embedder, x0, objective.fn, pgdOptions);
      adversarial = run.adversarial;
      const result = pgdResultOf(run, yield run.figures);
      const embeddedTensor = tf.tidy(() => embedder.embed(run.adversarial, false));
      let embedded: Float32Array;
      try {
        embedded = (yield embeddedTensor) as Float32Array;
      } finally {
        embeddedTensor.dispose();
      }
      const pixels = options.keepSamples ? ((yield run.adversarial) as Float32Array) : null;
      maxPerturbation = Math.max(maxPerturbation, result.maxPerturbation);
      objectiveBefore += result.initialObjective.reduce((a, b) => a + b, 0);
      objectiveAfter += result.objective.reduce((a, b) => a + b, 0);
      zero += result.gradients.zero;
      nonFinite += result.gradients.nonFinite;
      total += result.gradients.total;
      chunk.forEach((row, i) => {
        const embedding = embedded.subarray(i * dim, (i + 1) * dim);
        const figures = definition.score(gallery, row, targets[i], embedding);
        collect(perSample, figures);
        collect(perSampleClean, definition.score(gallery, row, targets[i], gallery.table.row(row)));
        if (pixels) {
          attacked.push({
            row,
            targets: targets[i],
            adversarial: pixels.slice(i * per, (i + 1) * per),
            embedding: embedding.slice(),
            figures,
          });
        }
      });
    } finally {
      x0.dispose();
      adversarial?.dispose();
      objective.constants.forEach((t) => t.dispose());
    }
    options.onProgress?.({
      attack,
      done: Math.min(rows.length, start + batchSize),
      total: rows.length,
    });
  }
  const figures: Partial<Record<MetricName, number>> = {};
  for (const [metric, values] of perSample) figures[metric] = mean(values);
  const cleanFigures: Partial<Record<MetricName, number>> = {};
  for (const [metric, values] of perSampleClean) cleanFigures[metric] = mean(values);
  const perQuery = Object.fromEntries(perSample) as Partial<Record<MetricName, number[]>>;
  const cleanPerQuery = Object.fromEntries(perSampleClean) as Partial<Record<MetricName, number[]>>;
  const chance: ChanceLevels = chanceLevels(gallery.labels, rows);
  return {
    attack,
    configuration,
    figures,
    cleanFigures,
    perQuery,
    cleanPerQuery,
    estimates: estimateFigures(perQuery, chance),
    cleanEstimates: estimateFigures(cleanPerQuery, chance),
    objectiveBefore: objectiveBefore / rows.length,
    objectiveAfter: objectiveAfter / rows.length,
    samples: rows.length,
    maxPerturbation,
    zeroGradientShare: total ? zero / total : 0,
    nonFiniteGradientShare: total ? nonFinite / total : 0,
    ...(options.keepSamples ? { attacked } : {}),
  };
}

/** Natural R@1 (percent) of the query rows against the clean gallery. */
export function naturalRecallAt1(gallery: AttackGallery, rows: number[]): number {
  return mean(naturalRecallPerQuery(gallery, rows));
}

/** Per query: 100 when its clean top-1 (itself left out) has its label, else 0. */
export function naturalRecallPerQuery(gallery: AttackGallery, rows: number[]): number[] {
  return rows.map((row) => recallAt1(gallery, row, gallery.table.row(row)));
}

/** Mean pairwise distance of (up to `limit`) clean embeddings: near 0 means the embedding collapsed. */
export function embeddingSpread(table: EmbeddingTable, limit = 1000): number {
  const n = Math.min(limit, table.size);
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      sum += table.distance(i, j);
      pairs++;
    }
  }
  return pairs ? sum / pairs : 0;
}
