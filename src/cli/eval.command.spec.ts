import * as path from 'path';
import { captureStdout, runCli, saveTinyModel, words } from '../../test/support/cli';
import { temporaryFolder } from '../../test/support/folders';
import { initBackend } from '../ml/backend';
import type { EvalResult } from './eval.command';

const tmp = temporaryFolder('rir-eval-');

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
  await saveTinyModel(path.join(tmp.path, 'mnist'));
  await saveTinyModel(path.join(tmp.path, 'small'), { size: 8 });
});

const evalCli = (model: string, ...args: string[]) =>
  runCli('eval', '--model', path.join(tmp.path, model), '--dataset', 'mnist', ...args);

describe('rir eval --attacks', () => {
  it.each([
    [['--attacks', 'all', '--eps', '2'], /eps must be in \[0, 1\] \(got 2\)/],
    [['--attacks', 'all', '--eps', '-1/255'], /--eps must be a number or a fraction/],
    [['--attacks', 'ES', '--steps', '0'], /steps must be a positive integer \(got 0\)/],
    [['--attacks', 'ES', '--steps', '-4'], /steps must be a positive integer/],
    [['--attacks', 'ES,FOO'], /unknown attack 'FOO'/],
    [['--eps', '0.1'], /--eps needs --attacks/],
    [['--no-strength-check'], /--no-strength-check needs --attacks/],
  ])('rejects %j before loading the model', async (args, message) => {
    // A model directory that does not exist: the error must come from the options, not from loading.
    await expect(evalCli('missing', ...args)).rejects.toThrow(message);
  });

  it('rejects a model whose input shape does not match the data set', async () => {
    await expect(evalCli('small', '--max-test', '50')).rejects.toThrow(
      /model input shape 8x8x1 does not match the data set's image shape 28x28x1/,
    );
  });

  it('prints the retrieval metrics and the attack report as JSON', async () => {
    const text = await captureStdout(() =>
      evalCli(
        'mnist',
        ...words(
          '--max-test 60 --attacks ES,GTM --eps 77/255 --steps 2 --sample 6 --gallery 60 --no-strength-check --json',
        ),
      ),
    );
    const result = JSON.parse(text) as EvalResult;
    expect(result.count).toBe(60);
    expect(result.metrics.recallAt1).toBeGreaterThanOrEqual(0);
    // R@1 and MAP@R with n and a 95% interval, in the metrics' unit (fractions); no per-query arrays.
    const e = result.estimates.metrics!;
    expect(e.recallAt1).toMatchObject({ n: 60, method: 'wilson' });
    expect(e.recallAt1.value).toBeCloseTo(result.metrics.recallAt1, 12);
    expect(e.recallAt1.low).toBeLessThanOrEqual(e.recallAt1.value);
    expect(e.recallAt1.high).toBeGreaterThanOrEqual(e.recallAt1.value);
    expect(e.mapAtR.value).toBeCloseTo(result.metrics.mapAtR, 12);
    // 60 MNIST test images of 5 classes: about 11/59 of the others share a query's class.
    expect(e.chanceRecallAt1).toBeGreaterThan(0.1);
    expect(e.chanceRecallAt1).toBeLessThan(0.3);
    expect(result.metrics.perQuery).toBeUndefined();
    expect(result.units).toMatch(/fractions 0\.\.1/);
    expect(result.attack?.estimates.figures['ES:R']).toMatchObject({ n: 6 });
    expect(result.attack?.options).toMatchObject({ sampleSize: 6, gallerySize: 60, steps: 2 });
    expect(result.attack?.figures['ES:R']).toBeGreaterThanOrEqual(0);
    // The attack report in fractions too, as rir attack --json gives it.
    expect(result.attack).toMatchObject({ unit: 'fraction' });
    expect(result.attack?.figures.GTM).toBeLessThanOrEqual(1);
    expect(result.attack?.natural.recallAt1).toBeLessThanOrEqual(1);
    expect(result.attack?.sanity.maxPerturbation).toBeLessThanOrEqual(77 / 255 + 1e-6);
  }, 300_000); // the attack worker starts its own backend and loads MNIST: slow on a loaded machine

  it('prints the attack table after the retrieval table on a terminal', async () => {
    const text = await captureStdout(() =>
      evalCli(
        'mnist',
        ...words(
          '--max-test 60 --attacks ES --steps 1 --sample 4 --gallery 40 --no-strength-check',
        ),
      ),
    );
    expect(text).toMatch(/^model .* on mnist test classes \(60 images/);
    expect(text).toMatch(
      /^model {8}R@1 \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\], n = 60 \(chance 0\.\d{4}, (above|at|below) chance\); MAP@R /m,
    );
    expect(text).toMatch(/ES:R +\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 4 /);
  }, 300_000);
});
