/**
 * A robustness report: the attack suite on a model and an evaluation set, ERS, natural accuracy, and
 * the sanity figures that say whether the numbers can be trusted (perturbation within eps, healthy
 * gradients, attack strength, embedding spread). Plain JSON-serialisable data.
 */
import { readLater, readNow, type Reads } from '../backend/reads';
import type { Embedder, ImageSet } from '../types';
import { AttackName, MetricName } from '../attacks/definitions';
import {
  AttackRun,
  AttackSuiteOptions,
  embeddingSpread,
  naturalRecallPerQuery,
  prepareGallerySteps,
  runAttackSteps,
  sampleQueries,
  validateSuiteOptions,
  assertCompatible,
} from '../attacks/suite';
import { mean, type AttackGallery } from '../attacks/definitions';
import { ersIfComplete } from './ers';
import {
  chanceLevels,
  ersEstimate,
  naturalRecallEstimate,
  type ChanceLevels,
  type FigureEstimate,
} from './estimates';
import { BOOTSTRAP_DEFAULTS, meanEstimate, plainEstimate, type Estimate } from './intervals';

export interface StrengthCheck {
  attack: AttackName;
  /** Robust R@1 (percent) with the configured attack. */
  base: number;
  /** Robust R@1 with twice the steps and one more random restart. */
  stronger: number;
  /** base - stronger, in points. */
  drop: number;
  steps: number;
  restarts: number;
  /** The stronger attack lowered robust R@1 by more than 2 points: the configured one is too weak. */
  warning: boolean;
  /** base and stronger with their n and 95% intervals (absent in reports written before intervals). */
  baseEstimate?: Estimate;
  strongerEstimate?: Estimate;
}

/**
 * The second strength check: a different attack on the same objective at the same budget (momentum PGD,
 * MI-FGSM, on ES with the configured eps, step, steps and restarts). It must not beat the configured attack
 * by more than the configured figure's interval.
 */
export interface AlternativeAttackCheck {
  attack: AttackName;
  /** In words, e.g. "momentum PGD (MI-FGSM, decay 1), same eps, step and steps". */
  method: string;
  momentum: number;
  steps: number;
  restarts: number;
  /** ES:R (percent) with the configured attack and with the alternative one. */
  base: Estimate;
  alternative: Estimate;
  /** The alternative's ES:R lies below the configured attack's interval. */
  warning: boolean;
}

/** The statistics of a report's figures (units as the figures: percent, cosine, distance, ERS points). */
export interface ReportEstimates {
  naturalRecallAt1: FigureEstimate;
  mapAtR: Estimate;
  figures: Partial<Record<MetricName, FigureEstimate>>;
  ers: Estimate | null;
}

/** MI-FGSM's usual decay. */
export const ALTERNATIVE_MOMENTUM = 1;

/** The sanity figures of a report (a probe's adds its own). */
export interface SanityChecks {
  eps: number;
  maxPerturbation: number;
  withinEps: boolean;
  zeroGradientShare: number;
  nonFiniteGradientShare: number;
  embeddingSpread: number;
  strength: StrengthCheck | null;
  /** A different attack (momentum PGD) on the same objective and budget (absent in older reports). */
  alternative?: AlternativeAttackCheck | null;
  warnings: string[];
}

export interface RobustnessReport {
  version: 1;
  model: string;
  dataset: string;
  createdAt: string;
  durationSeconds: number;
  options: {
    eps: number;
    alpha: number;
    steps: number;
    restarts: number;
    sampleSize: number;
    gallerySize: number;
    seed: number;
  };
  natural: { recallAt1: number; mapAtR: number };
  /** The gallery rows attacked, in the order of every run's per-query values. */
  queries: number[];
  /** Natural R@1 (0 or 100) and average precision (percent) of each query. */
  naturalPerQuery: { recallAt1: number[]; averagePrecision: number[] };
  /** What a random ranking of the same gallery scores on these queries (percent). */
  chance: ChanceLevels;
  /** The figures of every attack run, in percent except TMA (cosine) and ES:D (distance). */
  figures: Partial<Record<MetricName, number>>;
  /** n, 95% interval and chance level of every figure, natural R@1, MAP@R and ERS. */
  estimates: ReportEstimates;
  /** "Adversarial accuracy": R@1 of ES-perturbed queries against the clean gallery (= ES:R). */
  adversarialRecallAt1: number | null;
  ers: number | null;
  runs: AttackRun[];
  sanity: SanityChecks;
}

export interface ReportOptions extends AttackSuiteOptions {
  attacks: AttackName[];
  model?: string;
  dataset?: string;
  /** Skip the (costly) strength check. */
  skipStrengthCheck?: boolean;
}

/**
 * A different attack beats the configured one by more than its interval: its robust R@1 lies below the
 * configured attack's 95% interval (lower R@1 = stronger attack).
 */
export function beatsByMoreThanInterval(configured: Estimate, other: Estimate): boolean {
  return other.value < configured.low;
}

/** Float32 pixels cannot hit eps exactly: allow one part in a million. */
const EPS_TOLERANCE = 1e-6;

/** MAP@R of the query rows against the gallery (R = number of other items of the query's class). */
export function mapAtR(gallery: AttackGallery, rows: number[]): number {
  return rows.length ? mean(averagePrecisions(gallery, rows)) : 0;
}

/** Per query: its average precision over its R nearest neighbours, in percent (0 when R = 0). */
export function averagePrecisions(gallery: AttackGallery, rows: number[]): number[] {
  return rows.map((row) => {
    const label = gallery.labels[row];
    let r = 0;
    gallery.labels.forEach((l, j) => {
      if (j !== row && l === label) r++;
    });
    if (r === 0) return 0;
    const order = gallery.neighbours(row).slice(0, r);
    let hits = 0;
    let precisionSum = 0;
    order.forEach((j, i) => {
      if (gallery.labels[j] === label) {
        hits++;
        precisionSum += hits / (i + 1);
      }
    });
    return (100 * precisionSum) / r;
  });
}

export function buildRobustnessReport(
  embedder: Embedder,
  evaluation: ImageSet,
  options: ReportOptions,
): RobustnessReport {
  return readNow(robustnessReportSteps(embedder, evaluation, options));
}

/** buildRobustnessReport reading values back asynchronously: on every backend, webgpu included. */
export function buildRobustnessReportAsync(
  embedder: Embedder,
  evaluation: ImageSet,
  options: ReportOptions,
): Promise<RobustnessReport> {
  return readLater(robustnessReportSteps(embedder, evaluation, options));
}

function* robustnessReportSteps(
  embedder: Embedder,
  evaluation: ImageSet,
  options: ReportOptions,
): Reads<RobustnessReport> {
  validateSuiteOptions(options);
  assertCompatible(embedder, evaluation);
  if (options.attacks.length === 0) throw new Error('no attacks selected');
  const started = Date.now();
  const seed = options.seed ?? 0;
  const gallery = yield* prepareGallerySteps(embedder, evaluation);
  try {
    const rows = sampleQueries(gallery, options.sampleSize ?? 200, seed);
    if (rows.length === 0)
      throw new Error('the evaluation set has no class with two or more images');
    const runs: AttackRun[] = [];
    for (const attack of options.attacks) {
      runs.push(yield* runAttackSteps(embedder, gallery, attack, rows, options));
    }
    const figures: Partial<Record<MetricName, number>> = {};
    for (const run of runs) Object.assign(figures, run.figures);

    let strength: StrengthCheck | null = null;
    let alternative: AlternativeAttackCheck | null = null;
    if (!options.skipStrengthCheck) {
      const baseRun =
        runs.find((run) => run.attack === 'ES') ??
        (yield* runAttackSteps(embedder, gallery, 'ES', rows, options));
      const baseEstimate = baseRun.estimates['ES:R'] as FigureEstimate;
      const base = baseEstimate.value;
      const stronger = {
        ...options,
        steps: options.steps * 2,
        restarts: (options.restarts ?? 1) + 1,
        seed: seed + 1,
      };
      const strongRun = yield* runAttackSteps(embedder, gallery, 'ES', rows, stronger);
      const strongEstimate = strongRun.estimates['ES:R'] as FigureEstimate;
      const strongR1 = strongEstimate.value;
      strength = {
        attack: 'ES',
        base,
        stronger: strongR1,
        drop: base - strongR1,
        steps: stronger.steps,
        restarts: stronger.restarts,
        warning: base - strongR1 > 2,
        baseEstimate: plainEstimate(baseEstimate),
        strongerEstimate: plainEstimate(strongEstimate),
      };
      runs.push({ ...strongRun, attack: 'ES' });
      // A different attack on the same objective at the same budget: momentum PGD.
      const momentumRun = yield* runAttackSteps(embedder, gallery, 'ES', rows, {
        ...options,
        momentum: ALTERNATIVE_MOMENTUM,
        seed: seed + 2,
      });
      const alternativeEstimate = momentumRun.estimates['ES:R'] as FigureEstimate;
      alternative = {
        attack: 'ES',
        method: `momentum PGD (MI-FGSM, decay ${ALTERNATIVE_MOMENTUM}), same eps, step, steps and restarts`,
        momentum: ALTERNATIVE_MOMENTUM,
        steps: options.steps,
        restarts: options.restarts ?? 1,
        base: plainEstimate(baseEstimate),
        alternative: plainEstimate(alternativeEstimate),
        warning: beatsByMoreThanInterval(baseEstimate, alternativeEstimate),
      };
      runs.push(momentumRun);
    }
    const maxPerturbation = Math.max(...runs.map((r) => r.maxPerturbation));
    const gradientSteps = runs.reduce(
      (a, r) => a + r.configuration.steps * r.configuration.restarts * r.samples,
      0,
    );
    const weighted = (key: 'zeroGradientShare' | 'nonFiniteGradientShare'): number =>
      runs.reduce(
        (a, r) => a + r[key] * r.configuration.steps * r.configuration.restarts * r.samples,
        0,
      ) / (gradientSteps || 1);
    const warnings: string[] = [];
    const withinEps = options.norm === 'l2' || maxPerturbation <= options.eps + EPS_TOLERANCE;
    if (!withinEps) warnings.push(`perturbation ${maxPerturbation} exceeds eps ${options.eps}`);
    if (strength?.warning) {
      warnings.push(
        `attack too weak: ${strength.steps} steps x ${strength.restarts} restarts lowered ES:R by ${strength.drop.toFixed(1)} points`,
      );
    }
    if (alternative?.warning) {
      warnings.push(
        `attack too weak: ${alternative.method} lowered ES:R to ${alternative.alternative.value.toFixed(1)}%, ` +
          `below the configured attack's interval [${alternative.base.low.toFixed(1)}, ${alternative.base.high.toFixed(1)}]`,
      );
    }
    const zeroShare = weighted('zeroGradientShare');
    const nonFiniteShare = weighted('nonFiniteGradientShare');
    if (nonFiniteShare > 0)
      warnings.push(`${(100 * nonFiniteShare).toFixed(1)}% of input gradients were not finite`);
    if (zeroShare > 0.05)
      warnings.push(
        `${(100 * zeroShare).toFixed(1)}% of input gradients were exactly zero (saturated hinge objectives, or gradient masking)`,
      );
    const spread = embeddingSpread(gallery.table);
    if (spread < 0.05)
      warnings.push(`embedding collapsed: mean pairwise distance ${spread.toFixed(4)}`);
    const chance = chanceLevels(gallery.labels, rows);
    const naturalPerQuery = {
      recallAt1: naturalRecallPerQuery(gallery, rows),
      averagePrecision: averagePrecisions(gallery, rows),
    };
    // ERS and the figures come from the configured runs (the first per attack), not the checks'.
    const configured = runs.slice(0, options.attacks.length);
    const perQuery: Partial<Record<MetricName, number[]>> = {};
    for (const run of configured) Object.assign(perQuery, run.perQuery);
    const estimates: ReportEstimates = {
      naturalRecallAt1: naturalRecallEstimate(naturalPerQuery.recallAt1, chance),
      mapAtR: meanEstimate(naturalPerQuery.averagePrecision, BOOTSTRAP_DEFAULTS),
      figures: Object.assign({}, ...configured.map((run) => run.estimates)) as Partial<
        Record<MetricName, FigureEstimate>
      >,
      ers: ersEstimate(perQuery),
    };
    return {
      version: 1,
      model: options.model ?? 'unnamed',
      dataset: options.dataset ?? 'unnamed',
      createdAt: new Date().toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      options: {
        eps: options.eps,
        alpha: options.alpha,
        steps: options.steps,
        restarts: options.restarts ?? 1,
        sampleSize: rows.length,
        gallerySize: gallery.labels.length,
        seed,
      },
      natural: {
        recallAt1: mean(naturalPerQuery.recallAt1),
        mapAtR: mean(naturalPerQuery.averagePrecision),
      },
      queries: rows,
      naturalPerQuery,
      chance,
      figures,
      estimates,
      adversarialRecallAt1: figures['ES:R'] ?? null,
      ers: ersIfComplete(figures),
      runs,
      sanity: {
        eps: options.eps,
        maxPerturbation,
        withinEps,
        zeroGradientShare: zeroShare,
        nonFiniteGradientShare: nonFiniteShare,
        embeddingSpread: spread,
        strength,
        alternative,
        warnings,
      },
    };
  } finally {
    gallery.dispose();
  }
}
