/**
 * A robustness report: the attack suite on a model and an evaluation set, ERS, natural accuracy, and
 * the sanity figures that say whether the numbers can be trusted (perturbation within eps, healthy
 * gradients, attack strength, embedding spread). Plain JSON-serialisable data.
 */
import type { Embedder, ImageSet } from '../types';
import { AttackName, MetricName } from '../attacks/definitions';
import {
  AttackRun,
  AttackSuiteOptions,
  embeddingSpread,
  naturalRecallAt1,
  prepareGallery,
  runAttack,
  sampleQueries,
  validateSuiteOptions,
  assertCompatible,
} from '../attacks/suite';
import type { AttackGallery } from '../attacks/definitions';
import { ersIfComplete } from './ers';

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
  /** The figures of every attack run, in percent except TMA (cosine) and ES:D (distance). */
  figures: Partial<Record<MetricName, number>>;
  /** "Adversarial accuracy": R@1 of ES-perturbed queries against the clean gallery (= ES:R). */
  adversarialRecallAt1: number | null;
  ers: number | null;
  runs: AttackRun[];
  sanity: {
    eps: number;
    maxPerturbation: number;
    withinEps: boolean;
    zeroGradientShare: number;
    nonFiniteGradientShare: number;
    embeddingSpread: number;
    strength: StrengthCheck | null;
    warnings: string[];
  };
}

export interface ReportOptions extends AttackSuiteOptions {
  attacks: AttackName[];
  model?: string;
  dataset?: string;
  /** Skip the (costly) strength check. */
  skipStrengthCheck?: boolean;
}

/** Float32 pixels cannot hit eps exactly: allow one part in a million. */
const EPS_TOLERANCE = 1e-6;

/** MAP@R of the query rows against the gallery (R = number of other items of the query's class). */
export function mapAtR(gallery: AttackGallery, rows: number[]): number {
  let sum = 0;
  for (const row of rows) {
    const label = gallery.labels[row];
    let r = 0;
    gallery.labels.forEach((l, j) => {
      if (j !== row && l === label) r++;
    });
    if (r === 0) continue;
    const order = gallery.neighbours(row).slice(0, r);
    let hits = 0;
    let precisionSum = 0;
    order.forEach((j, i) => {
      if (gallery.labels[j] === label) {
        hits++;
        precisionSum += hits / (i + 1);
      }
    });
    sum += precisionSum / r;
  }
  return rows.length ? (100 * sum) / rows.length : 0;
}

export function buildRobustnessReport(
  embedder: Embedder,
  evaluation: ImageSet,
  options: ReportOptions,
): RobustnessReport {
  validateSuiteOptions(options);
  assertCompatible(embedder, evaluation);
  if (options.attacks.length === 0) throw new Error('no attacks selected');
  const started = Date.now();
  const seed = options.seed ?? 0;
  const gallery = prepareGallery(embedder, evaluation);
  try {
    const rows = sampleQueries(gallery, options.sampleSize ?? 200, seed);
    if (rows.length === 0)
      throw new Error('the evaluation set has no class with two or more images');
    const runs: AttackRun[] = [];
    for (const attack of options.attacks) {
      runs.push(runAttack(embedder, gallery, attack, rows, options));
    }
    const figures: Partial<Record<MetricName, number>> = {};
    for (const run of runs) Object.assign(figures, run.figures);

    let strength: StrengthCheck | null = null;
    if (!options.skipStrengthCheck) {
      const base =
        figures['ES:R'] ?? runAttack(embedder, gallery, 'ES', rows, options).figures['ES:R'] ?? 0;
      const stronger = {
        ...options,
        steps: options.steps * 2,
        restarts: (options.restarts ?? 1) + 1,
        seed: seed + 1,
      };
      const strongRun = runAttack(embedder, gallery, 'ES', rows, stronger);
      const strongR1 = strongRun.figures['ES:R'] ?? 0;
      strength = {
        attack: 'ES',
        base,
        stronger: strongR1,
        drop: base - strongR1,
        steps: stronger.steps,
        restarts: stronger.restarts,
        warning: base - strongR1 > 2,
      };
      runs.push({ ...strongRun, attack: 'ES' });
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
      natural: { recallAt1: naturalRecallAt1(gallery, rows), mapAtR: mapAtR(gallery, rows) },
      figures,
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
        warnings,
      },
    };
  } finally {
    gallery.dispose();
  }
}
