import { initBackend, tf } from '../backend';
import { rateFromCount } from '../robustness/intervals';
import { beatsByMoreThanInterval, buildRobustnessReport } from '../robustness/report';
import { ATTACK_NAMES, AttackName, parseAttackList } from './definitions';
import {
  circleEmbedder,
  circleImages,
  linearEmbedder,
  prototypeImages,
  randomWeights,
} from '../../../test/support/attack-fixtures';
import { AttackSuiteOptions, prepareGallery, runAttack } from './suite';

/** Which way each figure moves when an attack succeeds. */
const WEAKER: Record<string, 1 | -1> = {
  'CA+': -1,
  'CA-': 1,
  'QA+': -1,
  'QA-': 1,
  TMA: 1,
  'ES:D': 1,
  'ES:R': -1,
  LTM: -1,
  GTM: -1,
  GTT: -1,
};

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
});

describe('attack suite on a tiny fixed model', () => {
  const shape: [number, number, number] = [4, 4, 1];
  let embedder: ReturnType<typeof linearEmbedder>;
  beforeAll(() => {
    embedder = linearEmbedder(shape, randomWeights(16, 8, 11));
  });
  const set = prototypeImages(shape, 5, 8, 12);
  const options: AttackSuiteOptions = { eps: 0.15, alpha: 0.01, steps: 20, seed: 3 };
  afterAll(() => embedder.dispose());

  it.each(ATTACK_NAMES.map((a) => [a]))(
    '%s lowers its own objective, moves its figure the right way, respects eps',
    (attack) => {
      const gallery = prepareGallery(embedder, set);
      try {
        const rows = [0, 9, 17, 26, 35];
        const run = runAttack(embedder, gallery, attack as AttackName, rows, options);
        expect(run.objectiveAfter).toBeLessThan(run.objectiveBefore);
        expect(run.maxPerturbation).toBeLessThanOrEqual(options.eps + 1e-6);
        expect(run.nonFiniteGradientShare).toBe(0);
        for (const [metric, value] of Object.entries(run.figures)) {
          const clean = run.cleanFigures[metric as keyof typeof run.cleanFigures] as number;
          expect(Number.isFinite(value)).toBe(true);
          // Each figure moves towards "less robust" (or stays, for R@1-like figures already at the floor).
          expect(WEAKER[metric] * (value - clean)).toBeGreaterThanOrEqual(0);
        }
      } finally {
        gallery.dispose();
      }
    },
  );

  it('leaves no tensor behind after a full report', () => {
    const before = tf.memory().numTensors;
    const report = buildRobustnessReport(embedder, set, {
      ...options,
      attacks: [...ATTACK_NAMES],
      steps: 4,
      sampleSize: 8,
    });
    expect(report.ers).not.toBeNull();
    expect(report.sanity.withinEps).toBe(true);
    expect(report.sanity.strength).not.toBeNull();
    expect(JSON.parse(JSON.stringify(report)).figures).toEqual(report.figures);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees its tensors when the attack fails part-way', () => {
    const gallery = prepareGallery(embedder, set);
    try {
      const before = tf.memory().numTensors;
      // pgd refuses the step size after the batch's images and the objective's constants exist.
      expect(() => runAttack(embedder, gallery, 'CA+', [0, 9], { ...options, alpha: -1 })).toThrow(
        /alpha/,
      );
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      gallery.dispose();
    }
  });

  it("keeps every query's value: the figures are their means, the estimates their intervals", () => {
    const report = buildRobustnessReport(embedder, set, {
      ...options,
      attacks: ['ES', 'CA+'],
      steps: 3,
      sampleSize: 10,
    });
    expect(report.queries).toHaveLength(10);
    for (const run of report.runs) {
      for (const [metric, values] of Object.entries(run.perQuery)) {
        expect(values).toHaveLength(10);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        expect(run.figures[metric as keyof typeof run.figures]).toBeCloseTo(mean, 10);
      }
    }
    // ES:R: k of 10 queries kept their top-1 -> the Wilson interval of k/10.
    const esR = report.estimates.figures['ES:R']!;
    const k = report.runs[0].perQuery['ES:R']!.filter((v) => v === 100).length;
    expect(esR).toMatchObject({ ...rateFromCount(k, 10), chance: report.chance.recallAt1 });
    // Five classes of eight: 7 of the 39 others share a query's class.
    expect(report.chance.recallAt1).toBeCloseTo((100 * 7) / 39, 10);
    expect(report.estimates.naturalRecallAt1.n).toBe(10);
    // The second strength check ran momentum PGD on the same queries.
    const momentumRun = report.runs.find((run) => run.configuration.momentum === 1)!;
    expect(momentumRun.attack).toBe('ES');
    expect(report.sanity.alternative?.alternative.value).toBe(momentumRun.figures['ES:R']);
    expect(report.sanity.alternative?.base.value).toBe(report.figures['ES:R']);
  });

  it('warns when another attack beats the configured one by more than its interval', () => {
    // Configured ES:R 12 of 30 = 40.0% [24.6, 57.7]: another attack at 6 of 30 (20%) lies below it,
    // one at 9 of 30 (30%) inside it.
    const configured = rateFromCount(12, 30);
    expect(configured.low).toBeCloseTo(24.59, 2);
    expect(beatsByMoreThanInterval(configured, rateFromCount(6, 30))).toBe(true);
    expect(beatsByMoreThanInterval(configured, rateFromCount(9, 30))).toBe(false);
    expect(beatsByMoreThanInterval(configured, rateFromCount(15, 30))).toBe(false);
  });
});

describe('attacks on an identity-like model, worked out by hand', () => {
  // Embedding = unit vector at the angle of (pixel - 0.5): four classes of two points, 10 degrees apart.
  let embedder: ReturnType<typeof circleEmbedder>;
  beforeAll(() => {
    embedder = circleEmbedder();
  });
  const set = circleImages([-5, 5, 85, 95, 175, 185, 265, 275], [0, 0, 1, 1, 2, 2, 3, 3]);
  afterAll(() => embedder.dispose());
  const attack = (name: AttackName, eps: number) => {
    const gallery = prepareGallery(embedder, set);
    try {
      return runAttack(embedder, gallery, name, [1], { eps, alpha: eps / 20, steps: 60, seed: 1 });
    } finally {
      gallery.dispose();
    }
  };

  // Query: the point at +5 degrees, offset (0.0996, 0.0087) from the centre; its top-1 is the point at -5.
  // With eps 0.03 the perturbed offset stays in [0.0696, 0.1296] x [-0.0213, 0.0387]: at most 29 degrees,
  // short of the 40 degrees where a point of another class (85 degrees) gets closer than the -5 one.
  it.each(['LTM', 'GTM'] as const)(
    '%s keeps R@1 at 100 when eps cannot turn the query past 40 degrees',
    (name) => {
      expect(attack(name, 0.03).figures[name]).toBe(100);
    },
  );

  it('GTT keeps the original top-1 in the top 4 at eps 0.03', () => {
    expect(attack('GTT', 0.03).figures.GTT).toBe(100);
  });

  // With eps 0.2 the box around the offset contains the centre: every direction is reachable.
  it.each(['LTM', 'GTM'] as const)(
    '%s drives R@1 to 0 when eps 0.2 makes every direction reachable',
    (name) => {
      expect(attack(name, 0.2).figures[name]).toBe(0);
    },
  );

  it('GTT pushes the original top-1 out of the top 4 at eps 0.2', () => {
    expect(attack('GTT', 0.2).figures.GTT).toBe(0);
  });

  it('ES turns the embedding around: shift close to the maximum 2, and R@1 0', () => {
    const run = attack('ES', 0.2);
    expect(run.figures['ES:D']).toBeGreaterThan(1.98);
    expect(run.figures['ES:D']).toBeLessThanOrEqual(2 + 1e-6);
    expect(run.figures['ES:R']).toBe(0);
  });

  it('ES at eps 0.03 shifts no further than the largest reachable turn, 24.1 degrees', () => {
    // Corners of the box: (0.0696, 0.0387) at 29.1 degrees, (0.0696, -0.0213) at -17.0: at most 24.1 from 5.
    const run = attack('ES', 0.03);
    const bound = 2 * Math.sin(((24.1 + 0.1) * Math.PI) / 360);
    expect(run.figures['ES:D']).toBeLessThanOrEqual(bound);
    expect(run.figures['ES:D']).toBeGreaterThan(0.9 * bound);
  });

  it('TMA reaches its target direction when every direction is reachable', () => {
    expect(attack('TMA', 0.2).figures.TMA).toBeGreaterThan(0.99);
  });
});

describe('bad input fails before any work', () => {
  let embedder: ReturnType<typeof linearEmbedder>;
  beforeAll(() => {
    embedder = linearEmbedder([4, 4, 1], randomWeights(16, 8, 1));
  });
  const set = prototypeImages([4, 4, 1], 3, 4, 1);
  afterAll(() => embedder.dispose());

  it('rejects unknown attack names, naming the known ones', () => {
    expect(() => parseAttackList('ES,XYZ')).toThrow(
      /unknown attack 'XYZ': known attacks are CA\+, CA-/,
    );
    expect(parseAttackList('all')).toEqual([...ATTACK_NAMES]);
    expect(parseAttackList('es, gtm')).toEqual(['ES', 'GTM']);
    expect(parseAttackList(['es', 'CA+', 'ES'])).toEqual(['ES', 'CA+']);
    expect(() => parseAttackList(['ES', 'FGSM', 'PGD'])).toThrow(/unknown attacks 'FGSM', 'PGD'/);
    expect(() => parseAttackList(' , ')).toThrow(/at least one attack/);
  });

  it('rejects a model whose input shape differs from the data', () => {
    const other = prototypeImages([2, 2, 1], 3, 4, 1);
    expect(() =>
      buildRobustnessReport(embedder, other, { attacks: ['ES'], eps: 0.1, alpha: 0.01, steps: 2 }),
    ).toThrow(/model input shape 4x4x1 does not match the data set's image shape 2x2x1/);
  });

  it.each([
    [{ eps: 2, steps: 2 }, /eps must be in \[0, 1\]/],
    [{ eps: 0.1, steps: 0 }, /steps must be a positive integer/],
    [{ eps: 0.1, steps: 2, sampleSize: 0 }, /sampleSize must be a positive integer/],
  ])('rejects %o', (bad, message) => {
    const before = tf.memory().numTensors;
    expect(() =>
      buildRobustnessReport(embedder, set, { attacks: ['ES'], alpha: 0.01, ...bad }),
    ).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
