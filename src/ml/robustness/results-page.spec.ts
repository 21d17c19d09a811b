import { METRIC_NAMES, type MetricName } from '../attacks/definitions';
import { ersIfComplete } from './ers';
import {
  ersEstimate,
  estimateFigures,
  naturalRecallEstimate,
  type ChanceLevels,
} from './estimates';
import { BOOTSTRAP_DEFAULTS, meanEstimate } from './intervals';
import type { RobustnessReport } from './report';
import { optionsForSeed, validateReproduce, type RunRecord } from './reproduce';
import { BUDGETS, budgetFor, MIN_QUERIES_MEDIUM } from './reproduce-budgets';
import {
  halfWidthAt50,
  keepHandWrittenSections,
  KEPT_SECTIONS_MARKER,
  renderResultsPage,
} from './results-page';

const N = 50;
/** `hits` of N queries answered correctly: the first `hits` (so a larger count is a superset). */
const outcomes = (hits: number): number[] =>
  Array.from({ length: N }, (_, i) => (i < hits ? 100 : 0));

interface FakeOptions {
  /** ES:R hits of N. */
  esR: number;
  /** Natural R@1 hits of N. */
  natural: number;
  seed?: number;
  chance?: number;
}

/** A run with per-query values as `rir reproduce` writes them (only the figures the page reads). */
function fakeRun(defense: string, o: FakeOptions): RunRecord {
  const constant = (value: number) => new Array<number>(N).fill(value);
  const perQuery: Record<MetricName, number[]> = {
    'CA+': constant(10),
    'CA-': constant(50),
    'QA+': constant(10),
    'QA-': constant(50),
    TMA: constant(0.9),
    'ES:D': constant(1.2),
    'ES:R': outcomes(o.esR),
    LTM: outcomes(5),
    GTM: outcomes(10),
    GTT: outcomes(5),
  };
  const chance: ChanceLevels = { recallAt1: o.chance ?? 10, retainAt4: 0.4, percentileRank: 50 };
  const figures = Object.fromEntries(
    METRIC_NAMES.map((m) => [m, perQuery[m].reduce((a, b) => a + b, 0) / N]),
  ) as Record<MetricName, number>;
  const natural = outcomes(o.natural);
  const report = {
    options: { sampleSize: N, seed: o.seed ?? 0 },
    queries: Array.from({ length: N }, (_, i) => 3 * i),
    natural: { recallAt1: (100 * o.natural) / N, mapAtR: 50 },
    chance,
    figures,
    estimates: {
      naturalRecallAt1: naturalRecallEstimate(natural, chance),
      mapAtR: meanEstimate(constant(50), BOOTSTRAP_DEFAULTS),
      figures: estimateFigures(perQuery, chance),
      ers: ersEstimate(perQuery),
    },
    ers: ersIfComplete(figures),
    runs: [{ attack: 'ES', perQuery: { 'ES:D': perQuery['ES:D'], 'ES:R': perQuery['ES:R'] } }],
    sanity: {
      eps: 0.302,
      maxPerturbation: 0.302,
      withinEps: true,
      zeroGradientShare: 0,
      nonFiniteGradientShare: 0,
      embeddingSpread: 0.8,
      strength: null,
      alternative: null,
      warnings: [],
    },
    createdAt: '2026-01-01T00:20:00Z',
    durationSeconds: 60,
  } as unknown as RobustnessReport;
  return {
    dataset: 'mnist',
    defense,
    seed: o.seed ?? 0,
    report,
    trainedAt: '2026-01-01T00:10:00Z',
    trainingSeconds: 120,
    trainingConfig: {},
    defenseConfig: { defense },
    naturalTestMetrics: { recallAt1: 0.9, mapAtR: 0.5 },
  };
}

/** A run as the pages before intervals recorded it: figures only, no per-query values. */
function legacyRun(defense: string, esR: number): RunRecord {
  const run = fakeRun(defense, { esR: 0, natural: 45 });
  const report = {
    ...run.report,
    figures: { ...run.report.figures, 'ES:R': esR },
    runs: [],
  } as Partial<RobustnessReport>;
  delete report.estimates;
  delete report.queries;
  delete report.chance;
  return { ...run, report: report as RobustnessReport };
}

const page = (runs: RunRecord[], budgetName = 'small') =>
  renderResultsPage({
    runs,
    command: 'rir reproduce --datasets mnist',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T01:00:00Z',
    durationSeconds: 3600,
    machine: { cpus: 'cpu', cores: 2, memoryGiB: 24, node: 'v20', backend: 'wasm' },
    budgets: { mnist: budgetFor('mnist', 'small') },
    budgetName,
  });

describe('results page', () => {
  it('computes fold increases with a paired bootstrap and checks the claim from the numbers', () => {
    const text = page([
      fakeRun('none', { esR: 2, natural: 47 }),
      fakeRun('panum', { esR: 12, natural: 46 }),
      fakeRun('est', { esR: 3, natural: 47 }),
      fakeRun('naive', { esR: 20, natural: 46 }),
    ]);
    // Natural R@1 on the attacked queries: 46 of 50 = 92.0%, Wilson [81.2, 96.8].
    expect(text).toContain(
      '| panum | 90.0 | 50.0 | 92.0% [81.2, 96.8], n = 50 | 24.0% [14.3, 37.4], n = 50 |',
    );
    // panum answers 10 more queries than none and none fewer: 6.0x, and no resample gets near 1.
    expect(text).toMatch(/\| 6\.0x \[\d+\.\d, (inf|\d+\.\d)\], n = 50 \|/);
    expect(text).toMatch(
      /undefended 4\.0% \[1\.1, 13\.5\], n = 50, panum 24\.0% \[14\.3, 37\.4\], n = 50 -> 6\.0x/,
    );
    expect(text).toMatch(/\(claim: >= 5x\): \*\*met\*\*/);
    expect(text).toMatch(/drop 2.0 points; claim: <= 5\): \*\*met\*\*/);
    expect(text).toMatch(
      /ERS panum [\d.]+ vs est [\d.]+ \([\d.]+ \[[\d.]+, [\d.]+\], n = 50 vs .*\): \*\*panum higher\*\*/,
    );
    expect(text).toMatch(/ERS panum [\d.]+ vs naive [\d.]+ .*: \*\*panum not higher\*\*/);
    expect(text).toContain('- Command: `rir reproduce --datasets mnist`');
    // Every figure of the ten carries its interval and n; the undefended fold is the reference.
    expect(text).toContain('| 1.0x (reference) |');
    expect(text).toContain('0.900 [0.900, 0.900], n = 50');
  });

  it('prints a fold whose interval includes 1 as "no significant difference"', () => {
    // est answers one query more than none (3 vs 2 of 50): 1.5x, but resamples without that query give 1.
    const text = page([
      fakeRun('none', { esR: 2, natural: 47 }),
      fakeRun('est', { esR: 3, natural: 47 }),
    ]);
    expect(text).toMatch(/\| 1\.5x \[1\.0, (inf|[\d.]+)\], n = 50: no significant difference \|/);
  });

  it('says in words whether adversarial R@1 is above, at or below chance', () => {
    const text = page([
      fakeRun('none', { esR: 2, natural: 47, chance: 10 }),
      fakeRun('panum', { esR: 45, natural: 47, chance: 10 }),
      fakeRun('naive', { esR: 0, natural: 47, chance: 20 }),
    ]);
    // 2 of 50: [1.1, 13.5] contains 10; 45 of 50: [78.6, 95.7] is above it; 0 of 50: [0, 7.1] is below 20.
    expect(text).toContain(
      '- none: ES:R 4.0% [1.1, 13.5], n = 50 is at chance (10.0%): the attack moves the embedding, but not where the attacker wants.',
    );
    expect(text).toContain('- panum: ES:R 90.0% [78.6, 95.7], n = 50 is above chance (10.0%)');
    expect(text).toContain(
      '- naive: ES:R 0.0% [0.0, 7.1], n = 50 is below chance (20.0%): the attacker steers it.',
    );
    expect(text).toMatch(/\| chance R@1 \|/);
    expect(text).toContain('| 10.0% |');
  });

  it('reads pages written before intervals: rates get Wilson back from the count, folds say they have none', () => {
    const text = page([legacyRun('none', 4), legacyRun('panum', 24)]);
    // 24% of 50 queries is 12: [14.3, 37.4]; TMA (a mean) has no interval without per-query values.
    expect(text).toContain('24.0% [14.3, 37.4], n = 50');
    expect(text).toContain('6.0x (no per-query values: no interval)');
    expect(text).toContain('| 0.900, n = 50 |');
  });

  it('says when the claim is not met or a run is missing', () => {
    const text = page([
      fakeRun('none', { esR: 5, natural: 47 }),
      fakeRun('panum', { esR: 10, natural: 40 }),
    ]);
    expect(text).toMatch(/-> 2.0x .*\(claim: >= 5x\): \*\*not met\*\*/);
    expect(text).toMatch(/drop 14.0 points; claim: <= 5\): \*\*not met\*\*/);
    expect(text).toContain('the est run is missing');
  });

  it('reports mean and spread over seeds next to the per-seed rows', () => {
    const text = page([
      fakeRun('none', { esR: 2, natural: 47, seed: 0 }),
      fakeRun('panum', { esR: 12, natural: 46, seed: 0 }),
      fakeRun('none', { esR: 4, natural: 47, seed: 1 }),
      fakeRun('panum', { esR: 14, natural: 44, seed: 1 }),
    ]);
    expect(text).toContain(
      '| panum (seed 1) | 90.0 | 50.0 | 88.0% [76.2, 94.4], n = 50 | 28.0% [17.5, 41.7], n = 50 |',
    );
    expect(text).toContain('Over seeds (0, 1)');
    // ES:R 24 and 28: mean 26, sample sd sqrt(8) = 2.8; folds 6.0 and 3.5: mean 4.75, sd 1.77.
    expect(text).toMatch(
      /\| panum \| 2 \| 90\.0 ± 2\.8 \(88\.0\.\.92\.0\) \| 26\.0 ± 2\.8 \(24\.0\.\.28\.0\) \|/,
    );
    expect(text).toMatch(/\| 4\.8 ± 1\.8 \(3\.5\.\.6\.0\) \|$/m);
    expect(text).toContain('Seed 1:');
  });

  it('notes that a budget of fewer than 1,000 queries has wide intervals', () => {
    // Wilson at 25 of 50: [36.6, 63.4], half-width 13.4 points.
    expect(halfWidthAt50(50)).toBeCloseTo(13.36, 2);
    const text = page([fakeRun('none', { esR: 2, natural: 47 })]);
    expect(text).toContain(
      '- Note: 50 attacked queries (budgets below `medium` attack fewer than 1,000): the intervals are wide, up to ±13.4 points for a rate near 50%.',
    );
    expect(text).toContain('Wilson score intervals for rates');
  });
});

describe('budgets', () => {
  it('attack at least 1,000 queries from medium up on MNIST-sized test sets', () => {
    for (const name of ['medium', 'long', 'full'] as const) {
      const budget = BUDGETS.mnist[name]!;
      expect(budget.evaluation.sampleSize).toBeGreaterThanOrEqual(MIN_QUERIES_MEDIUM);
      expect(budget.maxTest).toBeGreaterThanOrEqual(budget.evaluation.sampleSize);
    }
  });
});

describe('seeds', () => {
  const base = {
    datasets: ['mnist'],
    defenses: ['none'],
    outDir: '/tmp/x',
    budget: 'smoke' as const,
  };
  it('keep the first seed in the output folder and put the others beside it', () => {
    const options = { ...base, seeds: [3, 1, 2] };
    expect(optionsForSeed(options, 3)).toMatchObject({ seed: 3, outDir: '/tmp/x' });
    expect(optionsForSeed(options, 1)).toMatchObject({ seed: 1, outDir: '/tmp/x/seed-1' });
    expect(optionsForSeed({ ...base, seed: 5 }, 5)).toMatchObject({ seed: 5, outDir: '/tmp/x' });
  });

  it('must be distinct non-negative integers', () => {
    expect(() => validateReproduce({ ...base, seeds: [0, 0] })).toThrow(/seeds must be distinct/);
    expect(() => validateReproduce({ ...base, seeds: [0, -1] })).toThrow(
      /seeds must be non-negative integers \(got -1\)/,
    );
    expect(() => validateReproduce({ ...base, seeds: [0, 1, 2] })).not.toThrow();
  });
});

describe('results page, RobRank protocol (mnist-all)', () => {
  it("sets the runs beside RobRank's published MNIST figures and says which were not run", () => {
    const mnistAll = (run: RunRecord): RunRecord => ({ ...run, dataset: 'mnist-all' });
    const none = mnistAll(fakeRun('none', { esR: 2, natural: 47 }));
    const act = mnistAll({
      ...fakeRun('act', { esR: 30, natural: 46 }),
      naturalTestMetrics: { recallAt1: 0.975, mapAtR: 0.9 },
    });
    const text = renderResultsPage({
      runs: [none, act],
      command: 'rir reproduce --datasets mnist-all --budget robrank',
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: '2026-01-01T01:00:00Z',
      durationSeconds: 3600,
      machine: { cpus: 'cpu', cores: 2, memoryGiB: 24, node: 'v20', backend: 'wasm' },
      budgets: { 'mnist-all': budgetFor('mnist-all', 'robrank') },
      budgetName: 'robrank',
    });
    expect(text).toContain('## mnist-all');
    expect(text).toContain("Budget: C2F2 (RobRank's MNIST network, trained from scratch, 512-d)");
    expect(text).toContain('trains 3752 iterations (constant learning rate)');
    expect(text).toContain(
      `| none (RobRank: N/A) | 99.0 | 13.3 | 90.0 | ${none.report.ers?.toFixed(1)} |`,
    );
    expect(text).toContain(
      `| act (RobRank: ACT) | 98.6 | 78.6 | 97.5 | ${act.report.ers?.toFixed(1)} |`,
    );
    expect(text).toContain('| est (RobRank: EST) | 98.3 | 40.5 | not run | not run |');
    expect(text).toContain('| hm-ics (RobRank: HM) | 99.0 | 77.9 | not run | not run |');
    // The class-disjoint claim check belongs to mnist, not to this protocol.
    expect(text).not.toContain('Claim check');
  });
});

describe('reproduce options', () => {
  const base = {
    datasets: ['mnist'],
    defenses: ['none', 'panum'],
    outDir: '/tmp/x',
    budget: 'small' as const,
  };
  it('rejects unknown data sets, defences and budgets before any work', () => {
    expect(() => validateReproduce({ ...base, datasets: ['cifar'] })).toThrow(
      /no reproduction budget for data set 'cifar'/,
    );
    expect(() => validateReproduce({ ...base, defenses: ['none', 'magic'] })).toThrow(
      /unknown defence 'magic'/,
    );
    expect(() => validateReproduce({ ...base, budget: 'huge' as never })).toThrow(
      /budget must be smoke, small, extended, medium, long, full or robrank/,
    );
    expect(() =>
      validateReproduce({ ...base, datasets: ['mnist', 'emoji'], budget: 'long' }),
    ).toThrow(/data set 'emoji' has no 'long' budget \(it has smoke, small\)/);
    expect(() => validateReproduce(base)).not.toThrow();
    expect(() => validateReproduce({ ...base, datasets: ['iconify', 'emoji'] })).not.toThrow();
  });
});

describe('keepHandWrittenSections', () => {
  it('carries the marker and everything after it over to the new page', () => {
    const old = `# old table\n\n${KEPT_SECTIONS_MARKER}\n\n## Natural retrieval\n\nR@1 0.966\n`;
    const merged = keepHandWrittenSections('# new table\n', old);
    expect(merged).toBe(
      `# new table\n\n${KEPT_SECTIONS_MARKER}\n\n## Natural retrieval\n\nR@1 0.966\n`,
    );
    // Idempotent: rewriting again keeps one copy.
    expect(keepHandWrittenSections('# newer\n', merged).split(KEPT_SECTIONS_MARKER)).toHaveLength(
      2,
    );
  });

  it('writes the new page alone when the old one has no marker or does not exist', () => {
    expect(keepHandWrittenSections('# new\n', '# old\n')).toBe('# new\n');
    expect(keepHandWrittenSections('# new\n', null)).toBe('# new\n');
  });
});
