/** Plain-text rendering of a robustness report for the terminal. */
import { METRIC_NAMES, MetricName } from '../attacks/definitions';
import { estimateFromAggregate, RECALL_METRICS, type FigureEstimate } from './estimates';
import { CHANCE_MEANING, formatEstimate, type Estimate } from './intervals';
import type { RobustnessReport } from './report';

/** How a figure of the suite reads (docs/METHOD.md §6): every report, the API and the console use this. */
export interface FigureInfo {
  /** Which way is more robust, as the literature reports the figure. */
  moreRobust: 'higher' | 'lower';
  unit: string;
  /**
   * Percent figures print with a % sign and one decimal; TMA (cosine) and ES:D (distance) with three.
   * The suite computes percent figures on a 0..100 scale; JSON gives them as fractions (units.ts).
   */
  percent: boolean;
  digits: 1 | 3;
}

const percent = (moreRobust: FigureInfo['moreRobust'], unit: string): FigureInfo => ({
  moreRobust,
  unit,
  percent: true,
  digits: 1,
});

export const FIGURES: Record<MetricName, FigureInfo> = {
  'CA+': percent('higher', 'mean rank %'),
  'CA-': percent('lower', 'mean rank %'),
  'QA+': percent('higher', 'mean rank %'),
  'QA-': percent('lower', 'mean rank %'),
  TMA: { moreRobust: 'lower', unit: 'mean cosine', percent: false, digits: 3 },
  'ES:D': { moreRobust: 'lower', unit: 'mean shift', percent: false, digits: 3 },
  'ES:R': percent('higher', 'R@1 %'),
  LTM: percent('higher', 'R@1 %'),
  GTM: percent('higher', 'R@1 %'),
  GTT: percent('higher', 'retain@4 %'),
};

/** Which way is more robust, per figure. */
export const MORE_ROBUST = Object.fromEntries(
  METRIC_NAMES.map((metric) => [metric, FIGURES[metric].moreRobust]),
) as Record<MetricName, FigureInfo['moreRobust']>;

export function formatFigure(metric: MetricName, value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return value.toFixed(FIGURES[metric].digits);
}

/** How every output states its units. */
export const INTERVAL_CONVENTION =
  'Figures in percent (rates and mean percentile ranks), except TMA (mean cosine) and ES:D (mean distance, 0..2); ' +
  'ERS in points (0..100). Each comes with its number of queries n and its 95% interval in the same unit: ' +
  'Wilson score intervals for rates (R@1, ES:R, LTM, GTM, GTT), a seeded bootstrap over queries ' +
  '(2,000 resamples, seed 0) for means (CA+, CA-, QA+, QA-, TMA, ES:D, MAP@R) and for ERS. ' +
  'Chance: the figure of a random ranking of the same gallery.';

/** "20.7% [19.6, 21.9], n = 4,861" for percent figures, three digits and no unit for TMA and ES:D. */
export function formatFigureEstimate(
  metric: MetricName,
  estimate: Pick<Estimate, 'value' | 'low' | 'high' | 'n'> | undefined,
): string {
  if (!estimate || Number.isNaN(estimate.value)) return '-';
  const { percent, digits } = FIGURES[metric];
  return formatEstimate(estimate, percent ? { digits, unit: '%' } : { digits });
}

/** A percent figure (natural R@1, MAP@R): "90.0% [74.4, 96.5], n = 30". */
export const formatPercentEstimate = (estimate: Estimate | undefined): string =>
  estimate && !Number.isNaN(estimate.value) ? formatEstimate(estimate, { unit: '%' }) : '-';

/** ERS in points: "4.9 [3.8, 6.1], n = 30". */
export const formatErsEstimate = (estimate: Estimate | null | undefined): string =>
  estimate ? formatEstimate(estimate) : '-';

/** A figure's estimate from the report, or rebuilt from its mean where the report predates them. */
export function figureEstimate(
  report: Pick<RobustnessReport, 'figures' | 'options'> & {
    estimates?: RobustnessReport['estimates'];
  },
  metric: MetricName,
): FigureEstimate | undefined {
  const stored = report.estimates?.figures[metric];
  if (stored) return stored;
  const value = report.figures[metric];
  return value === undefined
    ? undefined
    : estimateFromAggregate(metric, value, report.options.sampleSize);
}

/** "ES:R 3.3% [0.6, 16.7], n = 30 is at chance (10.1%): the attack moves the embedding, but not where the attacker wants." */
export function chanceSentence(metric: MetricName, estimate: FigureEstimate): string | null {
  if (!RECALL_METRICS.includes(metric) || estimate.verdict === null || estimate.chance === null)
    return null;
  return (
    `${metric} ${formatFigureEstimate(metric, estimate)} is ${estimate.verdict} (${estimate.chance.toFixed(1)}%): ` +
    `${CHANCE_MEANING[estimate.verdict]}.`
  );
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderReport(report: RobustnessReport): string {
  const o = report.options;
  const lines: string[] = [];
  lines.push(`Robustness of ${report.model} on ${report.dataset}`);
  lines.push(
    `eps ${o.eps.toFixed(4)}  alpha ${o.alpha.toFixed(4)}  steps ${o.steps}  restarts ${o.restarts}  ` +
      `queries ${o.sampleSize}  gallery ${o.gallerySize}  seed ${o.seed}  (${report.durationSeconds.toFixed(1)} s)`,
  );
  const e = report.estimates;
  const chance = report.chance ? ` (chance ${report.chance.recallAt1.toFixed(1)}%)` : '';
  lines.push(
    e
      ? `natural R@1 ${formatPercentEstimate(e.naturalRecallAt1)}${chance}  MAP@R ${formatPercentEstimate(e.mapAtR)}`
      : `natural R@1 ${report.natural.recallAt1.toFixed(1)}%  MAP@R ${report.natural.mapAtR.toFixed(1)}%`,
  );
  lines.push('');
  const rows: string[][] = [
    [
      'figure',
      'value [95% interval], n',
      'chance',
      'unit',
      'robust if',
      'attack config (alpha x steps, schedule)',
    ],
  ];
  const sentences: string[] = [];
  for (const metric of METRIC_NAMES) {
    const estimate = figureEstimate(report, metric);
    if (estimate === undefined) continue;
    const attack = metric.startsWith('ES') ? 'ES' : metric;
    const run = report.runs.find((r) => r.attack === attack);
    const config = run
      ? `${(run.configuration.alpha * 255).toFixed(2)}/255 x ${run.configuration.steps}, ${run.configuration.schedule}`
      : '';
    rows.push([
      metric,
      formatFigureEstimate(metric, estimate),
      estimate.chance === null ? '-' : formatFigure(metric, estimate.chance),
      FIGURES[metric].unit,
      FIGURES[metric].moreRobust,
      config,
    ]);
    const sentence = chanceSentence(metric, estimate);
    if (sentence) sentences.push(sentence);
  }
  lines.push(table(rows));
  if (sentences.length) lines.push('', ...sentences);
  lines.push('');
  lines.push(
    `ERS ${report.ers === null ? '- (needs all ten figures)' : e?.ers ? formatErsEstimate(e.ers) : report.ers.toFixed(1)}`,
  );
  const s = report.sanity;
  lines.push(
    `sanity: max perturbation ${s.maxPerturbation.toFixed(4)} (eps ${s.eps.toFixed(4)}, ${s.withinEps ? 'ok' : 'EXCEEDED'}); ` +
      `zero gradients ${(100 * s.zeroGradientShare).toFixed(1)}%; non-finite ${(100 * s.nonFiniteGradientShare).toFixed(1)}%; ` +
      `embedding spread ${s.embeddingSpread.toFixed(3)}`,
  );
  if (s.strength) {
    const base = s.strength.baseEstimate
      ? formatPercentEstimate(s.strength.baseEstimate)
      : `${s.strength.base.toFixed(1)}%`;
    const stronger = s.strength.strongerEstimate
      ? formatPercentEstimate(s.strength.strongerEstimate)
      : `${s.strength.stronger.toFixed(1)}%`;
    lines.push(
      `strength check: ES:R ${base} -> ${stronger} with ${s.strength.steps} steps x ` +
        `${s.strength.restarts} restarts (${s.strength.warning ? 'WARNING: attack too weak' : 'ok'})`,
    );
  }
  if (s.alternative) {
    lines.push(
      `strength check, another attack: ES:R ${formatPercentEstimate(s.alternative.base)} -> ` +
        `${formatPercentEstimate(s.alternative.alternative)} with ${s.alternative.method} ` +
        `(${s.alternative.warning ? 'WARNING: it beats the configured attack by more than its interval' : 'ok'})`,
    );
  }
  for (const warning of s.warnings) lines.push(`WARNING: ${warning}`);
  lines.push('', INTERVAL_CONVENTION);
  return lines.join('\n');
}
