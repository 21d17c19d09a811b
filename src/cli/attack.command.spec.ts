import * as path from 'path';
import { captureStdout, runCli, saveTinyModel, words } from '../../test/support/cli';
import { temporaryFolder } from '../../test/support/folders';
import { initBackend } from '../ml/backend';
import { METRIC_NAMES } from '../ml/attacks/definitions';
import type { AttackProgress } from '../ml/attacks/suite';
import { evaluateRobustness, parseBudget } from '../ml/robustness/evaluate';
import type { RobustnessReport } from '../ml/robustness/report';
import { runInWorker } from './attack.command';

const tmp = temporaryFolder('rir-attack-');

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
  await saveTinyModel(path.join(tmp.path, 'mnist'));
  await saveTinyModel(path.join(tmp.path, 'small'), { size: 8 });
});

const attack = (...args: string[]) =>
  runCli('attack', '--model', path.join(tmp.path, 'mnist'), '--dataset', 'mnist', ...args);

describe('rir attack', () => {
  it('reads budgets as numbers or fractions', () => {
    expect(parseBudget('77/255', '--eps')).toBeCloseTo(0.30196, 5);
    expect(parseBudget('0.3', '--eps')).toBe(0.3);
    expect(() => parseBudget('abc', '--eps')).toThrow(
      /--eps must be a number or a fraction like 8\/255/,
    );
  });

  it.each([
    [['--eps', '2'], /eps must be in \[0, 1\] \(got 2\)/],
    [['--eps', '-1/255'], /--eps must be a number or a fraction/],
    [['--steps', '0'], /steps must be a positive integer \(got 0\)/],
    [['--steps', '-4'], /steps must be a positive integer/],
    [['--attacks', 'ES,FOO'], /unknown attack 'FOO'/],
  ])('rejects %j before any work', async (args, message) => {
    await expect(attack(...args)).rejects.toThrow(message);
  });

  it('rejects a model whose input shape does not match the data set', async () => {
    await expect(
      evaluateRobustness({
        modelDir: path.join(tmp.path, 'small'),
        dataset: 'mnist',
        attacks: 'ES',
        eps: 0.1,
        alpha: 0.01,
        steps: 1,
      }),
    ).rejects.toThrow(/model input shape 8x8x1 does not match the data set's image shape 28x28x1/);
  });

  it('runs the suite in a worker thread and returns a JSON report', async () => {
    const progress: AttackProgress[] = [];
    const report = await runInWorker(
      {
        modelDir: path.join(tmp.path, 'mnist'),
        dataset: 'mnist',
        attacks: 'ES,GTM',
        eps: 77 / 255,
        alpha: 3 / 255,
        steps: 2,
        sampleSize: 6,
        gallerySize: 60,
        skipStrengthCheck: true,
      },
      (event) => progress.push(event),
    );
    expect(report.options).toMatchObject({ sampleSize: 6, gallerySize: 60, steps: 2 });
    expect(report.figures['ES:R']).toBeGreaterThanOrEqual(0);
    expect(report.figures.GTM).toBeLessThanOrEqual(100);
    expect(report.sanity.maxPerturbation).toBeLessThanOrEqual(77 / 255 + 1e-6);
    expect(report.ers).toBeNull(); // a partial suite has no ERS
    expect(report.estimates.ers).toBeNull();
    // Progress arrives as data, batch by batch, each attack counting up to its sample of 6 queries.
    const es = progress.filter((event) => event.attack === 'ES');
    expect(es.length).toBeGreaterThan(0);
    expect(es.at(-1)).toEqual({ attack: 'ES', done: 6, total: 6 });
  }, 300_000); // a worker starts its own backend and loads MNIST: slow on a loaded machine

  it('--json: every figure, natural R@1, MAP@R and ERS carry n and a 95% interval, R@1 figures their chance level', async () => {
    const printed = await captureStdout(() =>
      attack(...words('--attacks all --eps 77/255 --steps 1 --sample 5 --gallery 40 --json')),
    );
    const report = JSON.parse(printed) as RobustnessReport & { unit: string };
    const n = 5;
    expect(report.queries).toHaveLength(n);
    // Rates, percentile ranks and ERS in fractions, marked so that readers can tell.
    expect(report.unit).toBe('fraction');
    // The gallery's chance R@1: per query the share of its class among the other 39 items.
    expect(report.chance.recallAt1).toBeGreaterThan(0);
    expect(report.chance.recallAt1).toBeLessThan(1);
    expect(report.chance.retainAt4).toBeCloseTo(4 / 39, 10);
    expect(report.chance.percentileRank).toBe(0.5);
    for (const metric of ['CA+', 'CA-', 'QA+', 'QA-', 'ES:R', 'LTM', 'GTM', 'GTT'] as const) {
      expect(report.figures[metric]).toBeGreaterThanOrEqual(0);
      expect(report.figures[metric]).toBeLessThanOrEqual(1);
      for (const value of report.runs.find((r) => r.perQuery[metric])!.perQuery[metric]!) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
    }
    expect(report.ers).toBeGreaterThanOrEqual(0);
    expect(report.ers).toBeLessThanOrEqual(1);
    expect(report.natural.recallAt1).toBeLessThanOrEqual(1);
    for (const metric of METRIC_NAMES) {
      const e = report.estimates.figures[metric]!;
      expect(e).toMatchObject({ n });
      expect(e.value).toBeCloseTo(report.figures[metric]!, 10);
      expect(e.low).toBeLessThanOrEqual(e.value + 1e-9);
      expect(e.high).toBeGreaterThanOrEqual(e.value - 1e-9);
      expect(e).toHaveProperty('chance');
      // The per-query values behind the figure are kept.
      const run = report.runs.find((r) => r.attack === (metric.startsWith('ES') ? 'ES' : metric))!;
      expect(run.perQuery[metric]).toHaveLength(n);
    }
    for (const metric of ['ES:R', 'LTM', 'GTM'] as const) {
      expect(report.estimates.figures[metric]).toMatchObject({
        method: 'wilson',
        chance: report.chance.recallAt1,
      });
      expect(['above chance', 'at chance', 'below chance']).toContain(
        report.estimates.figures[metric]!.verdict,
      );
    }
    expect(report.estimates.figures.TMA).toMatchObject({ method: 'bootstrap', chance: null });
    expect(report.estimates.naturalRecallAt1).toMatchObject({
      n,
      method: 'wilson',
      chance: report.chance.recallAt1,
    });
    expect(report.estimates.mapAtR).toMatchObject({ n, method: 'bootstrap' });
    expect(report.estimates.ers).toMatchObject({ n, method: 'bootstrap' });
    expect(report.estimates.ers!.value).toBeCloseTo(report.ers!, 10);
    // Both strength checks ran, each with its interval.
    expect(report.sanity.strength?.baseEstimate).toMatchObject({ n });
    expect(report.sanity.alternative).toMatchObject({
      momentum: 1,
      base: { n },
      alternative: { n },
    });
  }, 300_000);
});
