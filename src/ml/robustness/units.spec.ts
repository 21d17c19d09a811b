import {
  linearEmbedder,
  prototypeImages,
  randomWeights,
} from '../../../test/support/attack-fixtures';
import { ATTACK_NAMES } from '../attacks/definitions';
import { initBackend } from '../backend';
import { robustnessBlockFromReport } from './manifest-block';
import { buildRobustnessReport, type RobustnessReport } from './report';
import {
  fractionToPercent,
  manifestInFractions,
  percentToFraction,
  reportFromJson,
  reportInFractions,
  scaleQuickRobustness,
  scaleRobustnessBlock,
  scaleRobustnessReport,
} from './units';

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

/** All nine attacks and the strength checks on a 3-class set: every field a report can have. */
function fullReport(): RobustnessReport {
  const shape: [number, number, number] = [2, 2, 1];
  const embedder = linearEmbedder(shape, randomWeights(4, 3, 7));
  try {
    return buildRobustnessReport(embedder, prototypeImages(shape, 3, 8, 1), {
      attacks: [...ATTACK_NAMES],
      eps: 0.05,
      alpha: 0.02,
      steps: 2,
      sampleSize: 12,
      seed: 0,
      model: 'm-1 (none)',
      dataset: 'prototypes',
    });
  } finally {
    embedder.dispose();
  }
}

/** Numbers to 12 significant digits: a figure scaled there and back compares equal. */
const significant = (value: unknown): unknown =>
  JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'number' ? Number(v.toPrecision(12)) : v,
    ),
  );

describe('rates in fractions', () => {
  let report: RobustnessReport;
  beforeAll(() => {
    report = fullReport();
  });

  it('scales every 0..100 figure of a report and leaves TMA, ES:D, eps and shares as they are', () => {
    const json = reportInFractions(report);
    expect(json.unit).toBe('fraction');
    expect(json.natural.recallAt1).toBeCloseTo(report.natural.recallAt1 / 100, 12);
    expect(json.natural.mapAtR).toBeCloseTo(report.natural.mapAtR / 100, 12);
    expect(json.chance).toEqual({
      recallAt1: report.chance.recallAt1 / 100,
      retainAt4: report.chance.retainAt4 / 100,
      percentileRank: 0.5,
    });
    for (const metric of ['CA+', 'CA-', 'QA+', 'QA-', 'ES:R', 'LTM', 'GTM', 'GTT'] as const) {
      expect(json.figures[metric]).toBe(report.figures[metric]! / 100);
      const e = json.estimates.figures[metric]!;
      const stored = report.estimates.figures[metric]!;
      expect([e.value, e.low, e.high, e.chance]).toEqual(
        [stored.value, stored.low, stored.high, stored.chance!].map((v) => v / 100),
      );
      expect(e.n).toBe(stored.n);
    }
    for (const metric of ['TMA', 'ES:D'] as const) {
      expect(json.figures[metric]).toBe(report.figures[metric]);
      expect(json.estimates.figures[metric]).toEqual(report.estimates.figures[metric]);
    }
    expect(json.ers).toBe(report.ers! / 100);
    expect(json.estimates.ers!.value).toBe(report.estimates.ers!.value / 100);
    expect(json.adversarialRecallAt1).toBe(report.adversarialRecallAt1! / 100);
    expect(json.naturalPerQuery.recallAt1.every((v) => v === 0 || v === 1)).toBe(true);
    const es = json.runs.find((run) => run.attack === 'ES')!;
    expect(es.perQuery['ES:R']!.every((v) => v === 0 || v === 1)).toBe(true);
    expect(es.perQuery['ES:D']).toEqual(
      report.runs.find((r) => r.attack === 'ES')!.perQuery['ES:D'],
    );
    // The strength checks: R@1 and their drop in fractions; eps and gradient shares unchanged.
    const strength = json.sanity.strength!;
    expect(strength.base).toBe(report.sanity.strength!.base / 100);
    expect(strength.drop).toBe(report.sanity.strength!.drop / 100);
    expect(strength.baseEstimate!.value).toBe(report.sanity.strength!.baseEstimate!.value / 100);
    expect(json.sanity.alternative!.alternative.high).toBe(
      report.sanity.alternative!.alternative.high / 100,
    );
    expect(json.sanity.eps).toBe(report.sanity.eps);
    expect(json.sanity.zeroGradientShare).toBe(report.sanity.zeroGradientShare);
    expect(json.options).toEqual(report.options);
    // The report itself is left as it was.
    expect(report.natural.recallAt1).toBeGreaterThan(1);
  });

  it('reads a report back on the suite scale: fractions when marked, percent when not (older files)', () => {
    const json = JSON.parse(JSON.stringify(reportInFractions(report)));
    const back = reportFromJson(json);
    expect(back).not.toHaveProperty('unit');
    expect(significant(back)).toEqual(significant(JSON.parse(JSON.stringify(report))));
    // A report saved before rates became fractions is taken as it is, not divided again.
    const older = JSON.parse(JSON.stringify(report));
    expect(reportFromJson(older)).toBe(older);
    expect(() => reportFromJson({ ...older, unit: 'percent' })).toThrow(
      "unknown report unit 'percent' (expected 'fraction')",
    );
    // The two conversions undo each other.
    expect(
      significant(scaleRobustnessReport(reportInFractions(report), fractionToPercent)),
    ).toEqual(significant({ ...report, unit: 'fraction' }));
  });

  it('gives a manifest in fractions: its robustness block, the training figure and the robust checks', () => {
    const block = robustnessBlockFromReport(report, {
      data: 'prototypes',
      command: 'rir attack ...',
      weightsSha256: 'a'.repeat(64),
    });
    const quick = {
      attack: 'ES',
      eps: 0.05,
      naturalRecallAt1: 62.5,
      recallAt1UnderAttack: 12.5,
      embeddingShift: 0.4,
      chanceRecallAt1: 20,
      estimates: {
        naturalRecallAt1: { value: 62.5, low: 40, high: 80, n: 8, method: 'wilson', chance: 20 },
        recallAt1UnderAttack: { value: 12.5, low: 2, high: 47, n: 8, method: 'wilson', chance: 20 },
        embeddingShift: {
          value: 0.4,
          low: 0.3,
          high: 0.5,
          n: 8,
          method: 'bootstrap',
          chance: null,
        },
      },
    };
    const manifest = {
      id: 'm-1',
      metrics: {
        recallAt1: 0.86,
        robustness: quick,
        history: [
          { epoch: 1, validationRecallAt1: 0.5 },
          {
            epoch: 2,
            validationRecallAt1: 0.6,
            robustCheck: { queries: 64, naturalRecallAt1: 50, pgdRecallAt1: 25, fastRecallAt1: 30 },
          },
        ],
      },
      robustness: block,
    };
    const out = manifestInFractions(manifest) as typeof manifest;
    expect(out.robustness).toEqual(scaleRobustnessBlock(block, percentToFraction));
    expect(out.robustness.natural.recallAt1.value).toBe(block.natural.recallAt1.value / 100);
    expect(out.robustness.adversarial!.ers!.value).toBe(block.adversarial!.ers!.value / 100);
    expect(out.robustness.adversarial!.worstRecallAt1!.figure).toBe(
      block.adversarial!.worstRecallAt1!.figure,
    );
    expect(out.robustness.chance.recallAt1).toBe(block.chance.recallAt1 / 100);
    expect(out.robustness.attack).toEqual(block.attack);
    expect(out.metrics.recallAt1).toBe(0.86);
    expect(out.metrics.robustness).toEqual({
      ...quick,
      naturalRecallAt1: 0.625,
      recallAt1UnderAttack: 0.125,
      chanceRecallAt1: 0.2,
      estimates: {
        naturalRecallAt1: {
          value: 0.625,
          low: 0.4,
          high: 0.8,
          n: 8,
          method: 'wilson',
          chance: 0.2,
        },
        recallAt1UnderAttack: {
          value: 0.125,
          low: 0.02,
          high: 0.47,
          n: 8,
          method: 'wilson',
          chance: 0.2,
        },
        embeddingShift: quick.estimates.embeddingShift,
      },
    });
    expect(out.metrics.history).toEqual([
      { epoch: 1, validationRecallAt1: 0.5 },
      {
        epoch: 2,
        validationRecallAt1: 0.6,
        robustCheck: { queries: 64, naturalRecallAt1: 0.5, pgdRecallAt1: 0.25, fastRecallAt1: 0.3 },
      },
    ]);
    // The stored manifest is left as it was.
    expect(manifest.metrics.robustness.naturalRecallAt1).toBe(62.5);
  });

  it('scales a training figure without estimates (eps 0, older jobs) and leaves null as null', () => {
    expect(
      scaleQuickRobustness(
        { naturalRecallAt1: 50, recallAt1UnderAttack: null, note: 'eps 0: not attacked' },
        percentToFraction,
      ),
    ).toEqual({ naturalRecallAt1: 0.5, recallAt1UnderAttack: null, note: 'eps 0: not attacked' });
    expect(scaleQuickRobustness(null, percentToFraction)).toBeNull();
  });
});
