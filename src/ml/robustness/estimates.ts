/**
 * Intervals and chance levels of the suite's figures, from the per-query values an attack run keeps.
 * Units as in the reports: percent for rates and ranks, cosine for TMA, distance for ES:D, points for ERS;
 * every interval in the unit of its figure.
 */
import { METRIC_NAMES, type MetricName } from '../attacks/definitions';
import { empiricalRobustnessScore, type SuiteFigures } from './ers';
import {
  BOOTSTRAP_DEFAULTS,
  bootstrapStat,
  chanceOfRows,
  chanceVerdict,
  meanAt,
  meanEstimate,
  rateEstimate,
  rateFromAggregate,
  type ChanceVerdict,
  type Estimate,
} from './intervals';

/** Per-query outcomes 0 or 100: Wilson intervals. The rank figures, TMA and ES:D are means: bootstrap. */
export const RATE_METRICS: readonly MetricName[] = ['ES:R', 'LTM', 'GTM', 'GTT'];
/** R@1 of a perturbed query against the clean gallery: compared with chance in words. */
export const RECALL_METRICS: readonly MetricName[] = ['ES:R', 'LTM', 'GTM'];

export interface FigureEstimate extends Estimate {
  /** What a random ranking of the same gallery scores, in the figure's unit; null for TMA and ES:D. */
  chance: number | null;
  /** R@1-type figures: where the interval lies against chance. */
  verdict: ChanceVerdict | null;
}

/** Chance levels of one gallery and query sample, in percent. */
export interface ChanceLevels {
  /** R@1 (natural R@1, ES:R, LTM, GTM): the mean share of same-class items among the others. */
  recallAt1: number;
  /** GTT's retain@4: the original top-1 lands in the top 4 of the N - 1 others. */
  retainAt4: number;
  /** CA+/CA-/QA+/QA-: the mean percentile rank of an item placed at random. */
  percentileRank: number;
}

export function chanceLevels(labels: ArrayLike<number>, rows: number[]): ChanceLevels {
  const others = labels.length - 1;
  return {
    recallAt1: 100 * chanceOfRows(labels, rows),
    retainAt4: others > 0 ? (100 * Math.min(4, others)) / others : NaN,
    percentileRank: 50,
  };
}

export function chanceOf(metric: MetricName, chance: ChanceLevels): number | null {
  if (RECALL_METRICS.includes(metric)) return chance.recallAt1;
  if (metric === 'GTT') return chance.retainAt4;
  if (metric === 'TMA' || metric === 'ES:D') return null;
  return chance.percentileRank;
}

/** One figure from its per-query values. */
export function estimateFigure(
  metric: MetricName,
  values: ArrayLike<number>,
  chance: ChanceLevels | null,
): FigureEstimate {
  const estimate = RATE_METRICS.includes(metric)
    ? rateEstimate(values)
    : meanEstimate(values, BOOTSTRAP_DEFAULTS);
  const level = chance ? chanceOf(metric, chance) : null;
  return {
    ...estimate,
    chance: level,
    verdict:
      level !== null && RECALL_METRICS.includes(metric) ? chanceVerdict(estimate, level) : null,
  };
}

export function estimateFigures(
  perQuery: Partial<Record<MetricName, ArrayLike<number>>>,
  chance: ChanceLevels | null,
): Partial<Record<MetricName, FigureEstimate>> {
  const out: Partial<Record<MetricName, FigureEstimate>> = {};
  for (const metric of METRIC_NAMES) {
    const values = perQuery[metric];
    if (values) out[metric] = estimateFigure(metric, values, chance);
  }
  return out;
}

/** Natural R@1 (percent) from per-query outcomes, with its chance level. */
export function naturalRecallEstimate(
  outcomes: ArrayLike<number>,
  chance: ChanceLevels | null,
): FigureEstimate {
  const estimate = rateEstimate(outcomes);
  return {
    ...estimate,
    chance: chance?.recallAt1 ?? null,
    verdict: chance ? chanceVerdict(estimate, chance.recallAt1) : null,
  };
}

/**
 * ERS with a bootstrap over queries: one draw of query indices per resample, every figure's mean
 * recomputed on it, ERS from those. Null unless all ten figures have values for the same queries.
 */
export function ersEstimate(
  perQuery: Partial<Record<MetricName, ArrayLike<number>>>,
): Estimate | null {
  const n = perQuery['ES:R']?.length ?? 0;
  if (n === 0 || !METRIC_NAMES.every((metric) => perQuery[metric]?.length === n)) return null;
  const interval = bootstrapStat(
    n,
    (indices) => {
      const figures = {} as SuiteFigures;
      for (const metric of METRIC_NAMES)
        figures[metric] = meanAt(perQuery[metric] as ArrayLike<number>, indices);
      return empiricalRobustnessScore(figures);
    },
    BOOTSTRAP_DEFAULTS,
  );
  return { ...interval, n, method: 'bootstrap' };
}

/**
 * A figure known only as its mean over n queries (a report written before per-query values were kept):
 * rates get their Wilson interval back from the count; means have no interval (NaN ends).
 */
export function estimateFromAggregate(
  metric: MetricName,
  value: number,
  n: number,
): FigureEstimate {
  const estimate: Estimate = RATE_METRICS.includes(metric)
    ? rateFromAggregate(value, n)
    : { value, low: NaN, high: NaN, n, method: 'bootstrap' };
  return { ...estimate, chance: null, verdict: null };
}
