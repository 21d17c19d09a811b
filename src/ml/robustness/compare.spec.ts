import { METRIC_NAMES, type MetricName } from '../attacks/definitions';
import {
  assertSameQueries,
  compareReports,
  pairedErsFold,
  perQueryFiguresOf,
  renderComparison,
  type PerQueryFigures,
} from './compare';
import { empiricalRobustnessScore, type SuiteFigures } from './ers';
import type { RobustnessReport } from './report';

/** Per-query figures of `n` queries: every figure constant except ES:R, LTM and GTM (0/100 outcomes). */
function figuresOf(n: number, hits: number, constant: Partial<SuiteFigures> = {}): PerQueryFigures {
  const figures: PerQueryFigures = {};
  for (const metric of METRIC_NAMES) {
    const outcome = (i: number) => (i < hits ? 100 : 0);
    const value = constant[metric] ?? 10;
    figures[metric] = Array.from({ length: n }, (_, i) =>
      ['ES:R', 'LTM', 'GTM'].includes(metric) ? outcome(i) : value,
    );
  }
  return figures;
}

function reportOf(model: string, figures: PerQueryFigures, queries: number[]): RobustnessReport {
  return {
    model,
    dataset: 'mnist',
    queries,
    options: {
      eps: 0.3,
      alpha: 0.01,
      steps: 32,
      restarts: 1,
      sampleSize: queries.length,
      gallerySize: 100,
      seed: 0,
    },
    runs: (Object.entries(figures) as [MetricName, number[]][]).map(([metric, values]) => ({
      attack: metric,
      perQuery: { [metric]: values },
    })),
  } as unknown as RobustnessReport;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('comparing two attack reports', () => {
  const queries = Array.from({ length: 200 }, (_, i) => i * 3);

  it('computes the ERS fold from both models on the same resampled queries', () => {
    const defended = figuresOf(200, 100, { TMA: 0.5, 'ES:D': 1 });
    const baseline = figuresOf(200, 10, { TMA: 0.9, 'ES:D': 1.8 });
    const fold = pairedErsFold(defended, baseline);
    const ers = (f: PerQueryFigures) =>
      empiricalRobustnessScore(
        Object.fromEntries(METRIC_NAMES.map((m) => [m, mean(f[m] as number[])])) as SuiteFigures,
      );
    expect(fold?.value).toBeCloseTo(ers(defended) / ers(baseline), 10);
    expect(fold?.n).toBe(200);
    expect(fold?.low).toBeLessThan(fold?.value as number);
    expect(fold?.high).toBeGreaterThan(fold?.value as number);
    expect(fold?.significant).toBe(true);
  });

  it('prints a fold whose interval includes 1 as no significant difference', () => {
    const figures = figuresOf(200, 50);
    const comparison = compareReports(
      reportOf('a', figures, queries),
      reportOf('b', figuresOf(200, 52), queries),
    );
    expect(comparison.ers?.significant).toBe(false);
    expect(comparison.figures['ES:R']?.significant).toBe(false);
    expect(renderComparison(comparison)).toMatch(/ERS fold: .*: no significant difference/);
  });

  it('refuses reports on different queries or attack settings', () => {
    const figures = figuresOf(200, 50);
    expect(() =>
      assertSameQueries(
        reportOf('a', figures, queries),
        reportOf(
          'b',
          figures,
          queries.map((q) => q + 1),
        ),
      ),
    ).toThrow(/different queries/);
    const other = reportOf('b', figures, queries);
    other.options.steps = 10;
    expect(() => assertSameQueries(reportOf('a', figures, queries), other)).toThrow(
      /different attack settings \(steps 32 vs 10\)/,
    );
  });

  it("takes the suite's own run of a figure, not the strength checks after it", () => {
    const report = reportOf('a', figuresOf(4, 1), [0, 1, 2, 3]);
    report.runs.push({ attack: 'ES', perQuery: { 'ES:R': [100, 100, 100, 100] } } as never);
    expect(perQueryFiguresOf(report)['ES:R']).toEqual([100, 0, 0, 0]);
  });

  it('has no ERS fold for a partial suite', () => {
    const partial = figuresOf(10, 5);
    delete partial.TMA;
    expect(pairedErsFold(partial, figuresOf(10, 5))).toBeNull();
  });
});
