import type { RobustnessReport } from './report';
import { budgetFor, validateReproduce, type RunRecord } from './reproduce';
import { keepHandWrittenSections, KEPT_SECTIONS_MARKER, renderResultsPage } from './results-page';

function fakeRun(defense: string, esR: number, natural: number, ers: number): RunRecord {
  const report = {
    natural: { recallAt1: natural, mapAtR: 50 },
    figures: {
      'CA+': 10,
      'CA-': 50,
      'QA+': 10,
      'QA-': 50,
      TMA: 0.9,
      'ES:D': 1.2,
      'ES:R': esR,
      LTM: 5,
      GTM: 20,
      GTT: 10,
    },
    ers,
    runs: [],
    sanity: {
      eps: 0.302,
      maxPerturbation: 0.302,
      withinEps: true,
      zeroGradientShare: 0,
      nonFiniteGradientShare: 0,
      embeddingSpread: 0.8,
      strength: null,
      warnings: [],
    },
    createdAt: '2026-01-01T00:20:00Z',
    durationSeconds: 60,
  } as unknown as RobustnessReport;
  return {
    dataset: 'mnist',
    defense,
    report,
    trainedAt: '2026-01-01T00:10:00Z',
    trainingSeconds: 120,
    trainingConfig: {},
    defenseConfig: { defense },
    naturalTestMetrics: { recallAt1: 0.9, mapAtR: 0.5 },
  };
}

const page = (runs: RunRecord[]) =>
  renderResultsPage({
    runs,
    command: 'rir reproduce --datasets mnist',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T01:00:00Z',
    durationSeconds: 3600,
    machine: { cpus: 'cpu', cores: 2, memoryGiB: 24, node: 'v20', backend: 'wasm' },
    budgets: { mnist: budgetFor('mnist', 'small') },
    budgetName: 'small',
  });

describe('results page', () => {
  it('computes fold increases and checks the claim from the numbers', () => {
    const text = page([
      fakeRun('none', 4, 95, 10),
      fakeRun('panum', 24, 92, 30),
      fakeRun('est', 8, 94, 20),
      fakeRun('naive', 40, 93, 35),
    ]);
    expect(text).toContain('| panum | 90.0 | 50.0 | 92.0 | 24.0 |');
    expect(text).toContain('6.0x');
    expect(text).toMatch(/undefended 4.0%, panum 24.0% -> 6.0x \(claim: >= 5x\): \*\*met\*\*/);
    expect(text).toMatch(/drop 3.0 points; claim: <= 5\): \*\*met\*\*/);
    expect(text).toMatch(/ERS panum 30.0 vs est 20.0: \*\*panum higher\*\*/);
    expect(text).toMatch(/ERS panum 30.0 vs naive 35.0: \*\*panum not higher\*\*/);
    expect(text).toContain('- Command: `rir reproduce --datasets mnist`');
  });

  it('says when the claim is not met or a run is missing', () => {
    const text = page([fakeRun('none', 10, 95, 10), fakeRun('panum', 20, 80, 30)]);
    expect(text).toMatch(/-> 2.0x \(claim: >= 5x\): \*\*not met\*\*/);
    expect(text).toMatch(/drop 15.0 points; claim: <= 5\): \*\*not met\*\*/);
    expect(text).toContain('the est run is missing');
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
      /budget must be smoke, small, extended, medium, long or full/,
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
