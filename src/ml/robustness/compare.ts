/**
 * Two attack reports on the same queries (a defended and an undefended model): folds of ERS and of
 * the R@1-type figures, each with a paired bootstrap (one draw of query indices for both models).
 */
import { METRIC_NAMES, type MetricName } from '../attacks/definitions';
import { empiricalRobustnessScore, type SuiteFigures } from './ers';
import { RECALL_METRICS } from './estimates';
import {
  BOOTSTRAP_DEFAULTS,
  bootstrapStat,
  formatFold,
  meanAt,
  pairedFold,
  type BootstrapOptions,
  type Fold,
} from './intervals';
import type { RobustnessReport } from './report';

export type PerQueryFigures = Partial<Record<MetricName, number[]>>;

export interface ReportComparison {
  defended: string;
  baseline: string;
  /** Queries both reports attacked (the same gallery rows, in the same order). */
  n: number;
  ers: Fold | null;
  /** ES:R, LTM and GTM folds (defended / baseline). */
  figures: Partial<Record<MetricName, Fold>>;
}

/**
 * Every figure's per-query values, from the report's attack runs. The suite's own run of a figure comes
 * first; later runs of the same attack are the strength checks (more steps, momentum) and are skipped.
 */
export function perQueryFiguresOf(report: RobustnessReport): PerQueryFigures {
  const figures: PerQueryFigures = {};
  for (const run of report.runs ?? []) {
    for (const [metric, values] of Object.entries(run.perQuery ?? {}) as [MetricName, number[]][])
      figures[metric] ??= values;
  }
  return figures;
}

/** Throws unless both reports attacked the same queries with the same attack configuration. */
export function assertSameQueries(a: RobustnessReport, b: RobustnessReport): void {
  if (!a.queries || !b.queries)
    throw new Error(
      'both reports need per-query values (reports written by this version keep them)',
    );
  if (a.dataset !== b.dataset)
    throw new Error(`the reports attacked different data sets (${a.dataset} vs ${b.dataset})`);
  if (a.queries.length !== b.queries.length || a.queries.some((q, i) => q !== b.queries[i]))
    throw new Error(
      'the reports attacked different queries: run both with the same --dataset, --sample, --gallery and --seed',
    );
  for (const key of ['eps', 'alpha', 'steps', 'restarts', 'gallerySize', 'seed'] as const) {
    if (a.options[key] !== b.options[key])
      throw new Error(
        `the reports used different attack settings (${key} ${a.options[key]} vs ${b.options[key]})`,
      );
  }
}

/** ERS(defended) / ERS(baseline), both recomputed on each resample of the common queries. */
export function pairedErsFold(
  defended: PerQueryFigures,
  baseline: PerQueryFigures,
  options: BootstrapOptions = BOOTSTRAP_DEFAULTS,
): Fold | null {
  const n = defended['ES:R']?.length ?? 0;
  const complete = (figures: PerQueryFigures) =>
    METRIC_NAMES.every((metric) => figures[metric]?.length === n);
  if (n === 0 || !complete(defended) || !complete(baseline)) return null;
  const ersAt = (figures: PerQueryFigures, indices: Int32Array): number => {
    const means = {} as SuiteFigures;
    for (const metric of METRIC_NAMES) means[metric] = meanAt(figures[metric] as number[], indices);
    return empiricalRobustnessScore(means);
  };
  const interval = bootstrapStat(
    n,
    (indices) => {
      const bottom = ersAt(baseline, indices);
      const top = ersAt(defended, indices);
      if (bottom === 0) return top === 0 ? 1 : Infinity;
      return top / bottom;
    },
    options,
  );
  return { ...interval, n, significant: !(interval.low <= 1 && interval.high >= 1) };
}

export function compareReports(
  defended: RobustnessReport,
  baseline: RobustnessReport,
): ReportComparison {
  assertSameQueries(defended, baseline);
  const a = perQueryFiguresOf(defended);
  const b = perQueryFiguresOf(baseline);
  const figures: Partial<Record<MetricName, Fold>> = {};
  for (const metric of RECALL_METRICS) {
    const top = a[metric];
    const bottom = b[metric];
    if (top && bottom) figures[metric] = pairedFold(top, bottom, BOOTSTRAP_DEFAULTS);
  }
  return {
    defended: defended.model,
    baseline: baseline.model,
    n: defended.queries.length,
    ers: pairedErsFold(a, b),
    figures,
  };
}

export function renderComparison(comparison: ReportComparison): string {
  const lines = [
    `${comparison.defended} vs ${comparison.baseline}, ${comparison.n} common queries (paired bootstrap, 95%):`,
    `  ERS fold: ${comparison.ers ? formatFold(comparison.ers) : 'not available (a partial suite)'}`,
  ];
  for (const [metric, fold] of Object.entries(comparison.figures))
    lines.push(`  ${metric} fold: ${formatFold(fold)}`);
  return `${lines.join('\n')}\n`;
}
