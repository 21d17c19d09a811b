/** Plain-text rendering of a robustness report for the terminal. */
import { METRIC_NAMES, MetricName } from '../attacks/definitions';
import type { RobustnessReport } from './report';

/** Which way is more robust, as the literature reports each figure. */
export const MORE_ROBUST: Record<MetricName, 'higher' | 'lower'> = {
  'CA+': 'higher',
  'CA-': 'lower',
  'QA+': 'higher',
  'QA-': 'lower',
  TMA: 'lower',
  'ES:D': 'lower',
  'ES:R': 'higher',
  LTM: 'higher',
  GTM: 'higher',
  GTT: 'higher',
};

const UNIT: Record<MetricName, string> = {
  'CA+': 'mean rank %',
  'CA-': 'mean rank %',
  'QA+': 'mean rank %',
  'QA-': 'mean rank %',
  TMA: 'mean cosine',
  'ES:D': 'mean shift',
  'ES:R': 'R@1 %',
  LTM: 'R@1 %',
  GTM: 'R@1 %',
  GTT: 'retain@4 %',
};

export function formatFigure(metric: MetricName, value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return metric === 'TMA' || metric === 'ES:D' ? value.toFixed(3) : value.toFixed(1);
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
  lines.push(
    `natural R@1 ${report.natural.recallAt1.toFixed(1)}%  MAP@R ${report.natural.mapAtR.toFixed(1)}%`,
  );
  lines.push('');
  const rows: string[][] = [
    ['figure', 'value', 'unit', 'robust if', 'attack config (alpha x steps, schedule)'],
  ];
  for (const metric of METRIC_NAMES) {
    const value = report.figures[metric];
    if (value === undefined) continue;
    const attack = metric.startsWith('ES') ? 'ES' : metric;
    const run = report.runs.find((r) => r.attack === attack);
    const config = run
      ? `${(run.configuration.alpha * 255).toFixed(2)}/255 x ${run.configuration.steps}, ${run.configuration.schedule}`
      : '';
    rows.push([metric, formatFigure(metric, value), UNIT[metric], MORE_ROBUST[metric], config]);
  }
  lines.push(table(rows));
  lines.push('');
  lines.push(`ERS ${report.ers === null ? '- (needs all ten figures)' : report.ers.toFixed(1)}`);
  const s = report.sanity;
  lines.push(
    `sanity: max perturbation ${s.maxPerturbation.toFixed(4)} (eps ${s.eps.toFixed(4)}, ${s.withinEps ? 'ok' : 'EXCEEDED'}); ` +
      `zero gradients ${(100 * s.zeroGradientShare).toFixed(1)}%; non-finite ${(100 * s.nonFiniteGradientShare).toFixed(1)}%; ` +
      `embedding spread ${s.embeddingSpread.toFixed(3)}`,
  );
  if (s.strength) {
    lines.push(
      `strength check: ES:R ${s.strength.base.toFixed(1)}% -> ${s.strength.stronger.toFixed(1)}% with ${s.strength.steps} steps x ` +
        `${s.strength.restarts} restarts (${s.strength.warning ? 'WARNING: attack too weak' : 'ok'})`,
    );
  }
  for (const warning of s.warnings) lines.push(`WARNING: ${warning}`);
  return lines.join('\n');
}
