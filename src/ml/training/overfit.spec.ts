import { initBackend, tf } from '../backend';
import { prototypeImages, trainableEmbedder } from '../../../test/support/attack-fixtures';
import { createDefense } from '../defenses';
import type { DefenseOptions } from '../defenses/options';
import {
  checkEpochForOverfitting,
  detectCatastrophicOverfitting,
  measureRobustCheck,
  OVERFIT_CHECK,
  restoreOverfitFallback,
  type RobustCheck,
} from './overfit';

type Figures = Omit<RobustCheck, 'overfit' | 'action'>;
const figures = (pgdRecallAt1: number, fastRecallAt1: number): Figures => ({
  queries: 64,
  gallery: 500,
  eps: 0.3,
  pgdSteps: 10,
  naturalRecallAt1: 95,
  pgdRecallAt1,
  fastRecallAt1,
});

/** Runs the detector along a series of (PGD R@1, fast R@1) checks; true where it fires. */
function firesAlong(series: [number, number][]): boolean[] {
  return series.map(([pgd, fast], i) =>
    detectCatastrophicOverfitting(
      series.slice(0, i).map(([p]) => ({ pgdRecallAt1: p })),
      { pgdRecallAt1: pgd, fastRecallAt1: fast },
    ),
  );
}

describe('catastrophic-overfitting detector', () => {
  it('fires where PGD robust R@1 suddenly falls to about zero while the fast step still sees a robust model', () => {
    // Robust R@1 climbs for three epochs, then PGD breaks it while the single step no longer can.
    expect(
      firesAlong([
        [22, 31],
        [35, 44],
        [41, 50],
        [1.6, 78],
        [0, 85],
      ]),
    ).toEqual([false, false, false, true, true]);
  });

  it('never fires at the first check: there is nothing to fall from yet', () => {
    // Early in training PGD beats one step by far on any model (a measured tiny run: 2.5 vs 32.5).
    expect(firesAlong([[2.5, 32.5]])).toEqual([false]);
  });

  it('stays quiet on a healthy run: both attacks move together, PGD somewhat stronger', () => {
    expect(
      firesAlong([
        [20, 28],
        [31, 40],
        [36, 47],
        [33, 45],
        [38, 49],
      ]),
    ).toEqual([false, false, false, false, false]);
  });

  it('stays quiet when robustness fades under both attacks, or was never there', () => {
    expect(
      firesAlong([
        [40, 50],
        [8, 12],
      ]),
    ).toEqual([false, false]);
    expect(
      firesAlong([
        [2, 6],
        [0, 8],
        [0, 9],
      ]),
    ).toEqual([false, false, false]);
  });
});

describe('the epoch check and its actions', () => {
  const validation = prototypeImages([4, 4, 1], 4, 6, 5, 0.1);
  const embedder = {
    inputShape: [4, 4, 1] as [number, number, number],
    embeddingDim: 2,
    embed: () => tf.zeros([1, 2]) as tf.Tensor2D,
  };
  /** Measurements read from a list, as if attacks had produced them. */
  const stub = (series: Figures[]) => {
    let call = 0;
    return () => series[call++];
  };
  const history: { epoch: number; robustCheck?: RobustCheck }[] = [
    { epoch: 1, robustCheck: { ...figures(38, 47), overfit: false } },
  ];
  const defenseWith = (options: DefenseOptions) => createDefense('panum', { eps: 0.3, ...options });

  it('fallback: switches the defence to PGD, and the epoch cannot be the delivered model', async () => {
    const defense = defenseWith({ inner: 'fast' });
    const result = await checkEpochForOverfitting(
      defense,
      embedder,
      validation,
      history,
      2,
      0,
      stub([figures(1, 80)]),
    );
    expect(result?.check).toMatchObject({ overfit: true, action: 'fallback', pgdRecallAt1: 1 });
    expect(result?.excludesEpoch).toBe(true);
    expect(result?.stop).toBe(false);
    expect(result?.message).toMatch(
      /^epoch 2: catastrophic overfitting: R@1 under 10-step PGD 1\.0%, under the fast step 80\.0% .*; PGD trains the remaining epochs$/,
    );
    expect(defense.inner?.method).toBe('pgd');
    // From now on it is a PGD run: no more checks.
    expect(
      await checkEpochForOverfitting(
        defense,
        embedder,
        validation,
        history,
        3,
        0,
        stub([figures(1, 80)]),
      ),
    ).toBeNull();
  });

  it('stop: asks the trainer to stop; warn: only reports', async () => {
    const stop = await checkEpochForOverfitting(
      defenseWith({ inner: 'free', onOverfit: 'stop' }),
      embedder,
      validation,
      history,
      2,
      0,
      stub([figures(0, 70)]),
    );
    expect(stop).toMatchObject({ stop: true, excludesEpoch: true, check: { action: 'stop' } });
    const warnDefense = defenseWith({ inner: 'fast', onOverfit: 'warn' });
    const warn = await checkEpochForOverfitting(
      warnDefense,
      embedder,
      validation,
      history,
      2,
      0,
      stub([figures(0, 70)]),
    );
    expect(warn).toMatchObject({ stop: false, excludesEpoch: false, check: { action: 'warn' } });
    expect(warnDefense.inner?.method).toBe('fast');
  });

  it('a healthy epoch is recorded with its figures and no action', async () => {
    const result = await checkEpochForOverfitting(
      defenseWith({ inner: 'fast' }),
      embedder,
      validation,
      // The history may already hold this epoch's record: it is no reference for itself.
      [...history, { epoch: 2 }],
      2,
      0,
      stub([figures(36, 45)]),
    );
    expect(result?.check).toEqual({ ...figures(36, 45), overfit: false, fastStepBlind: false });
    expect(result?.message).toMatch(/^epoch 2: overfitting check: /);
    expect(result?.message).not.toMatch(/misses what PGD finds/);
  });

  it('says so when the fast step misses what PGD finds, even at the first check (a one-epoch fine-tune)', async () => {
    // Measured on a one-epoch fast fine-tune of a natural MNIST model: PGD 0.0%, the fast step 53.1%.
    const result = await checkEpochForOverfitting(
      defenseWith({ inner: 'fast' }),
      embedder,
      validation,
      [],
      1,
      0,
      stub([figures(0, 53.1)]),
    );
    // Not catastrophic overfitting (nothing collapsed: there is no earlier check) ...
    expect(result).toMatchObject({ stop: false, excludesEpoch: false });
    expect(result?.check).toMatchObject({ overfit: false, fastStepBlind: true });
    // ... but the run is not robust to PGD, and the progress line says it.
    expect(result?.message).toMatch(
      /the fast step leaves 53\.1 points more R@1 than PGD: it misses what PGD finds/,
    );
  });

  it('runs for fast and free only', async () => {
    const measure = jest.fn(() => figures(1, 80));
    for (const defense of [createDefense('none'), defenseWith({}), createDefense('est')])
      expect(
        await checkEpochForOverfitting(defense, embedder, validation, history, 2, 0, measure),
      ).toBeNull();
    expect(measure).not.toHaveBeenCalled();
  });

  it('a resumed run that had fallen back trains with PGD again', async () => {
    const defense = defenseWith({ inner: 'free' });
    restoreOverfitFallback(defense, [
      { epoch: 1, robustCheck: { ...figures(30, 40), overfit: false } },
      { epoch: 2, robustCheck: { ...figures(0, 80), overfit: true, action: 'fallback' } },
    ]);
    expect(defense.inner?.method).toBe('pgd');
    expect(defense.config.inner).toMatchObject({ fellBackToPgdAfterEpoch: 2 });
  });
});

describe('measureRobustCheck', () => {
  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
  });

  it('attacks a fixed validation sample with PGD and the fast step, leaking nothing', async () => {
    const embedder = trainableEmbedder([4, 4, 1], 6, 1);
    const validation = prototypeImages([4, 4, 1], 4, 10, 5, 0.1);
    const before = tf.memory().numTensors;
    const small = { ...OVERFIT_CHECK, queries: 16, gallery: 30, pgdSteps: 4 };
    const first = await measureRobustCheck(embedder, validation, 0.2, 3, small);
    expect(tf.memory().numTensors).toBe(before);
    expect(first).toMatchObject({ queries: 16, gallery: 30, eps: 0.2, pgdSteps: 4 });
    for (const value of [first?.naturalRecallAt1, first?.pgdRecallAt1, first?.fastRecallAt1]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(100);
    }
    // The same sample and seeds every epoch: the same model gives the same figures.
    expect(await measureRobustCheck(embedder, validation, 0.2, 3, small)).toEqual(first);
    expect(await measureRobustCheck(embedder, validation, 0, 3)).toBeNull();
    embedder.dispose();
  });
});
