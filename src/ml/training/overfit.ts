/**
 * The catastrophic-overfitting check of the cheap inner maximisations (fast, free). Single-step
 * adversarial training can suddenly stop being robust: the single step no longer finds adversarial
 * examples (gradient masking) while PGD still does, so robust accuracy under PGD falls to about zero
 * (Wong, Rice and Kolter 2020). After each epoch the trainer attacks a fixed sample of validation
 * queries with the embedding-shift attack twice, with 10-step PGD and with the fast step, and compares.
 */
import {
  naturalRecallAt1,
  prepareGalleryAsync,
  runAttackAsync,
  sampleQueries,
} from '../attacks/suite';
import { SeededRandom, sampleDistinct } from '../attacks/random';
import { selectImages } from '../data/split';
import { FAST_STEP_FACTOR, type OverfitAction } from '../defenses/options';
import type { Defense, Embedder, ImageSet } from '../types';

/** One epoch's check, as the epoch history (checkpoint, manifest) records it. R@1 figures in percent. */
export interface RobustCheck {
  /** Validation queries attacked (a seeded sample, the same every epoch). */
  queries: number;
  /** Validation images they are ranked against (clean). */
  gallery: number;
  eps: number;
  pgdSteps: number;
  naturalRecallAt1: number;
  /** R@1 of the queries under the embedding-shift attack with PGD. */
  pgdRecallAt1: number;
  /** The same under one fast step (1.25 eps from a random start): the training's own attack. */
  fastRecallAt1: number;
  /** The detector fired at this epoch. */
  overfit: boolean;
  /**
   * The fast step leaves at least `gapPoints` more R@1 than PGD at this check, whether or not the detector
   * fired: the training's own attack misses what PGD finds, so the run is not (yet) learning robustness
   * against PGD. At the first check this is not catastrophic overfitting (nothing has collapsed), but a
   * short run (a one-epoch fine-tune) never gets a second check, so it is reported on its own.
   */
  fastStepBlind?: boolean;
  /** What the trainer did about it (present when it fired). */
  action?: OverfitAction;
}

export const OVERFIT_CHECK = {
  queries: 64,
  /** Largest validation gallery the queries rank against (a seeded sample of the split beyond it). */
  gallery: 1000,
  pgdSteps: 10,
  /** PGD R@1 at or below this share of the reference counts as collapsed... */
  collapseRatio: 0.3,
  /** ...of a reference of at least this much R@1 (points): below it there is nothing to collapse. */
  minReference: 10,
  /** ...while the fast step leaves at least this much more R@1 (points) than PGD: the single step is blind. */
  gapPoints: 20,
};
export type OverfitThresholds = typeof OVERFIT_CHECK;

/**
 * Catastrophic overfitting at the current check: PGD R@1 collapsed to at most `collapseRatio` of the
 * reference (the best PGD R@1 of the earlier checks, at least `minReference`) while the fast step still
 * leaves `gapPoints` more. A run that merely loses robustness loses it under both attacks and does not
 * fire; neither does one that never had any, nor the first check (nothing to fall from: early in
 * training PGD is far stronger than one step on any model, robust or not).
 */
export function detectCatastrophicOverfitting(
  earlier: Pick<RobustCheck, 'pgdRecallAt1'>[],
  current: Pick<RobustCheck, 'pgdRecallAt1' | 'fastRecallAt1'>,
  thresholds: OverfitThresholds = OVERFIT_CHECK,
): boolean {
  if (earlier.length === 0) return false;
  const reference = Math.max(...earlier.map((c) => c.pgdRecallAt1));
  return (
    reference >= thresholds.minReference &&
    current.pgdRecallAt1 <= thresholds.collapseRatio * reference &&
    current.fastRecallAt1 - current.pgdRecallAt1 >= thresholds.gapPoints
  );
}

/**
 * The two attacks on the fixed validation sample. Null when there is nothing to measure (eps 0, or no
 * validation image with another of its class). Reads back asynchronously: fast and free run on webgpu too.
 */
export async function measureRobustCheck(
  embedder: Embedder,
  validation: ImageSet,
  eps: number,
  seed: number,
  thresholds: OverfitThresholds = OVERFIT_CHECK,
): Promise<Omit<RobustCheck, 'overfit' | 'action'> | null> {
  const n = validation.labels.length;
  if (eps <= 0 || n < 2) return null;
  const set =
    n > thresholds.gallery
      ? selectImages(
          validation,
          sampleDistinct(new SeededRandom(seed * 131 + 7), n, thresholds.gallery).sort(
            (a, b) => a - b,
          ),
        )
      : validation;
  const gallery = await prepareGalleryAsync(embedder, set);
  try {
    const rows = sampleQueries(gallery, Math.min(thresholds.queries, set.labels.length), seed);
    if (rows.length === 0) return null;
    const steps = thresholds.pgdSteps;
    const underPgd = await runAttackAsync(embedder, gallery, 'ES', rows, {
      eps,
      alpha: (2.5 * eps) / steps,
      steps,
      seed,
    });
    const underFast = await runAttackAsync(embedder, gallery, 'ES', rows, {
      eps,
      alpha: FAST_STEP_FACTOR * eps,
      steps: 1,
      seed,
    });
    return {
      queries: rows.length,
      gallery: set.labels.length,
      eps,
      pgdSteps: steps,
      naturalRecallAt1: naturalRecallAt1(gallery, rows),
      pgdRecallAt1: underPgd.figures['ES:R'] ?? Number.NaN,
      fastRecallAt1: underFast.figures['ES:R'] ?? Number.NaN,
    };
  } finally {
    gallery.dispose();
  }
}

export interface EpochOverfitCheck {
  check: RobustCheck;
  /** For the progress line. */
  message: string;
  /** The epoch may not become the delivered model (it overfit and the run stops or falls back). */
  excludesEpoch: boolean;
  stop: boolean;
}

/**
 * The trainer's end-of-epoch step for fast and free runs: measure, detect, and act (`fallback` switches
 * the defence to PGD here). Null for every other run (PGD, natural, or already fallen back).
 * `history` may already hold this epoch's record; only earlier epochs' checks are the reference.
 */
export async function checkEpochForOverfitting(
  defense: Defense,
  embedder: Embedder,
  validation: ImageSet,
  history: { epoch: number; robustCheck?: RobustCheck }[],
  epoch: number,
  seed: number,
  measure: (
    ...args: Parameters<typeof measureRobustCheck>
  ) =>
    | ReturnType<typeof measureRobustCheck>
    | Awaited<ReturnType<typeof measureRobustCheck>> = measureRobustCheck,
): Promise<EpochOverfitCheck | null> {
  const inner = defense.inner;
  if (!inner || inner.method === 'pgd' || !inner.onOverfit) return null;
  const figures = await measure(embedder, validation, inner.eps, seed);
  if (!figures) return null;
  const earlier = history
    .filter((r) => r.epoch < epoch && r.robustCheck)
    .map((r) => r.robustCheck as RobustCheck);
  const overfit = detectCatastrophicOverfitting(earlier, figures);
  const action = overfit ? inner.onOverfit : undefined;
  if (action === 'fallback') inner.fallBackToPgd(epoch);
  const fastStepBlind = figures.fastRecallAt1 - figures.pgdRecallAt1 >= OVERFIT_CHECK.gapPoints;
  const check: RobustCheck = {
    ...figures,
    overfit,
    fastStepBlind,
    ...(action ? { action } : {}),
  };
  const figuresText = `R@1 under ${figures.pgdSteps}-step PGD ${figures.pgdRecallAt1.toFixed(1)}%, under the fast step ${figures.fastRecallAt1.toFixed(1)}% (${figures.queries} validation queries, eps ${Number(figures.eps.toFixed(4))})`;
  const consequence = {
    warn: 'training goes on (--on-overfit warn)',
    stop: 'training stops (the model delivered is the best earlier epoch)',
    fallback: 'PGD trains the remaining epochs',
  };
  return {
    check,
    message: action
      ? `epoch ${epoch}: catastrophic overfitting: ${figuresText}; ${consequence[action]}`
      : `epoch ${epoch}: overfitting check: ${figuresText}${
          fastStepBlind
            ? `; the fast step leaves ${(figures.fastRecallAt1 - figures.pgdRecallAt1).toFixed(1)} points more R@1 than PGD: it misses what PGD finds, so this model is not robust to PGD yet (more epochs with the check, or --inner pgd)`
            : ''
        }`,
    excludesEpoch: overfit && action !== 'warn',
    stop: action === 'stop',
  };
}

/** A resumed run that had fallen back to PGD trains on with PGD. */
export function restoreOverfitFallback(
  defense: Defense,
  history: { epoch: number; robustCheck?: RobustCheck }[],
): void {
  const fellBack = history.find((r) => r.robustCheck?.action === 'fallback');
  if (fellBack) defense.inner?.fallBackToPgd(fellBack.epoch);
}
