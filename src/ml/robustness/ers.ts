/**
 * The empirical robustness score (docs/METHOD.md §7): the mean of ten scores on 0..100, 100 = ideal.
 * Rank figures (CA+, CA-, QA+, QA-) and R@1-like figures (ES:R, LTM, GTM, GTT) are percentages;
 * TMA is a cosine and ES:D a distance in 0..2.
 */
import { METRIC_NAMES, MetricName } from '../attacks/definitions';

export type SuiteFigures = Record<MetricName, number>;

export function empiricalRobustnessScore(f: SuiteFigures): number {
  for (const name of METRIC_NAMES) {
    if (typeof f[name] !== 'number' || Number.isNaN(f[name])) {
      throw new Error(`ERS needs all ten figures; '${name}' is missing`);
    }
  }
  return (
    (2 * f['CA+'] +
      (100 - f['CA-']) +
      2 * f['QA+'] +
      (100 - f['QA-']) +
      100 * (1 - f.TMA) +
      50 * (2 - f['ES:D']) +
      f['ES:R'] +
      f.LTM +
      f.GTM +
      f.GTT) /
    10
  );
}

/** ERS when every figure is present, otherwise null (a partial suite has no ERS). */
export function ersIfComplete(f: Partial<Record<MetricName, number>>): number | null {
  return METRIC_NAMES.every((name) => typeof f[name] === 'number' && !Number.isNaN(f[name]))
    ? empiricalRobustnessScore(f as SuiteFigures)
    : null;
}
