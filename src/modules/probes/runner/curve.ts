/**
 * R@1 under attack as a function of eps. A perturbation allowed at eps is allowed at every larger eps,
 * so a query counts as robust at eps only if no R@1 attack (ES, LTM, GTM) broke it at eps or below:
 * that worst case per query cannot rise with eps. The raw per-eps figures are kept beside it; a raw
 * curve that rises says the attack at the larger eps was too weak. Framework-free.
 */
import type { AttackName, MetricName } from '../../../ml/attacks/definitions';
import {
  runAttackAsync,
  type AttackSuiteOptions,
  type PreparedGallery,
} from '../../../ml/attacks/suite';
import { ersIfComplete } from '../../../ml/robustness/ers';
import {
  estimateFigures,
  type ChanceLevels,
  type FigureEstimate,
} from '../../../ml/robustness/estimates';
import { rateFromCount } from '../../../ml/robustness/intervals';
import type { Embedder } from '../../../ml/types';
import type { CurvePoint } from './probe-report';

export const RECALL_FIGURES: MetricName[] = ['ES:R', 'LTM', 'GTM'];
const RECALL_ATTACKS: AttackName[] = ['ES', 'LTM', 'GTM'];

/** The lowest R@1-type figure present; null when no R@1 attack ran. */
export function worstRecall(figures: Partial<Record<MetricName, number>>): number | null {
  const values = RECALL_FIGURES.map((m) => figures[m]).filter(
    (v): v is number => typeof v === 'number',
  );
  return values.length ? Math.min(...values) : null;
}

export interface CurveInput {
  embedder: Embedder;
  gallery: PreparedGallery;
  rows: number[];
  attacks: AttackName[];
  /** Ascending. */
  eps: number[];
  /** Figures the full suite already measured at an eps (the primary one): those attacks are not rerun there. */
  measured: Map<number, Partial<Record<MetricName, number>>>;
  /** The intervals of those figures (the suite's estimates). */
  measuredEstimates?: Map<number, Partial<Record<MetricName, FigureEstimate>>>;
  /** Chance levels of the gallery and queries, for the estimates of the figures measured here. */
  chance?: ChanceLevels;
  optionsAt: (eps: number) => AttackSuiteOptions;
  /** Between attacks, so a cancel or a progress report can happen. */
  between?: () => Promise<void>;
}

export async function recallCurve(input: CurveInput): Promise<CurvePoint[]> {
  const recallAttacks = input.attacks.filter((a) => RECALL_ATTACKS.includes(a));
  // Per sampled query: still answered correctly by every R@1 attack so far.
  const robust = new Map<number, boolean>(input.rows.map((row) => [row, true]));
  const curve: CurvePoint[] = [];
  for (const eps of input.eps) {
    const known = input.measured.get(eps);
    // At a measured eps only the R@1 attacks rerun (for their per-query outcome); elsewhere all attacks run.
    const toRun = known ? recallAttacks : input.attacks;
    const figures: Partial<Record<MetricName, number>> = { ...known };
    const perQuery: Partial<Record<MetricName, number[]>> = {};
    for (const attack of toRun) {
      await input.between?.();
      const run = await runAttackAsync(
        input.embedder,
        input.gallery,
        attack,
        input.rows,
        input.optionsAt(eps),
      );
      for (const [metric, values] of Object.entries(run.perQuery) as [MetricName, number[]][]) {
        (perQuery[metric] ??= []).push(...values);
        if (!RECALL_FIGURES.includes(metric)) continue;
        values.forEach((value, i) => {
          if (value < 100) robust.set(input.rows[i], false);
        });
      }
      if (!known) Object.assign(figures, run.figures);
    }
    const survivors = [...robust.values()].filter(Boolean).length;
    const measuredHere = known ? (input.measuredEstimates?.get(eps) ?? {}) : {};
    curve.push({
      eps,
      recallAt1: recallAttacks.length ? (100 * survivors) / input.rows.length : null,
      rawRecallAt1: worstRecall(figures),
      figures,
      ers: ersIfComplete(figures),
      estimates: {
        recallAt1: recallAttacks.length ? rateFromCount(survivors, input.rows.length) : null,
        figures: known ? measuredHere : estimateFigures(perQuery, input.chance ?? null),
      },
    });
  }
  return curve;
}

/** The raw curve (each eps on its own) never rises with eps. */
export function rawCurveMonotone(curve: CurvePoint[]): boolean {
  return curve.every(
    (point, i) =>
      i === 0 ||
      point.rawRecallAt1 === null ||
      curve[i - 1].rawRecallAt1 === null ||
      point.rawRecallAt1 <= (curve[i - 1].rawRecallAt1 as number),
  );
}
