import { initBackend, tf } from '../backend';
import {
  batchHardTripletLoss,
  defenseTrainStep,
  prototypeBatch,
  PROTOTYPE_SHAPE as shape,
  trainableEmbedder,
} from '../../../test/support/attack-fixtures';
import type { Defense, DefenseContext } from '../types';
import { createDefense } from './index';
import { InnerMaximiser, fastPerturbation } from './inner';
import { resolveDefenseOptions, type DefenseOptions } from './options';

/** Largest |a - b|, smallest and largest value of a. */
function bounds(a: tf.Tensor, b: tf.Tensor): { perturbation: number; low: number; high: number } {
  return tf.tidy(() => ({
    perturbation: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0],
    low: tf.min(a).dataSync()[0],
    high: tf.max(a).dataSync()[0],
  }));
}

/** Every call of the engine's gradient routine: one per backward pass (grad, valueAndGrad, variableGrads). */
function countBackwardPasses(): { count: () => number; restore: () => void } {
  const spy = jest.spyOn(tf.engine(), 'gradients');
  return { count: () => spy.mock.calls.length, restore: () => spy.mockRestore() };
}

describe('inner maximisation methods', () => {
  let images: tf.Tensor4D;
  /** The same images pushed against the pixel box: many pixels are exactly 0 or 1. */
  let edgeImages: tf.Tensor4D;
  let labels: tf.Tensor1D;

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
    ({ images, labels } = prototypeBatch());
    edgeImages = tf.tidy(
      () => tf.clipByValue(tf.add(tf.mul(tf.sub(images, 0.5), 4), 0.5), 0, 1) as tf.Tensor4D,
    );
  });
  afterAll(() => tf.dispose([images, edgeImages, labels]));

  it('fast: one step from a random start lands in the eps ball and the pixel box', () => {
    const embedder = trainableEmbedder(shape, 6, 2);
    const eps = 0.1;
    const clean = tf.tidy(() => embedder.embed(edgeImages, false));
    const before = tf.memory().numTensors;
    const adversarial = fastPerturbation(
      embedder,
      edgeImages,
      (e) => tf.neg(tf.sum(tf.square(tf.sub(e, clean)), 1)),
      eps,
      5,
    );
    const { perturbation, low, high } = bounds(adversarial, edgeImages);
    expect(perturbation).toBeLessThanOrEqual(eps + 1e-6);
    expect(perturbation).toBeGreaterThan(eps / 2);
    expect(low).toBeGreaterThanOrEqual(0);
    expect(high).toBeLessThanOrEqual(1);
    adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
    clean.dispose();
    embedder.dispose();
  });

  it.each([['panum'], ['naive'], ['est']] as const)(
    '%s with inner fast crafts inside the eps ball and the pixel box',
    (name) => {
      const embedder = trainableEmbedder(shape, 6, 2);
      const eps = 0.1;
      const defense = createDefense(name, { eps, inner: 'fast' });
      const crafted = tf.tidy(() =>
        defense.craft({
          embedder,
          loss: batchHardTripletLoss,
          batch: { images: edgeImages, labels },
          step: 0,
        }),
      );
      const source = name === 'panum' ? tf.gather(edgeImages, crafted[1]) : edgeImages.clone();
      const { perturbation, low, high } = bounds(crafted[0], source);
      expect(perturbation).toBeLessThanOrEqual(eps + 1e-6);
      expect(perturbation).toBeGreaterThan(eps / 2);
      expect(low).toBeGreaterThanOrEqual(0);
      expect(high).toBeLessThanOrEqual(1);
      tf.dispose([...crafted, source]);
      embedder.dispose();
    },
  );

  it('free: the perturbation starts at zero and carries over, delta = clip(delta + eps sign(grad))', () => {
    const eps = 0.2;
    const inner = new InnerMaximiser(resolveDefenseOptions('naive', { eps, inner: 'free' }));
    const embedder = trainableEmbedder(shape, 6, 2);
    const ctx: DefenseContext = {
      embedder,
      loss: batchHardTripletLoss,
      batch: { images: edgeImages, labels },
      step: 0,
    };
    const x0 = Array.from(edgeImages.dataSync());
    // A fixed gradient sign pattern: + on even pixels, - on odd ones; then the same, then reversed.
    const signs = x0.map((_, i) => (i % 2 === 0 ? 1 : -1));
    const steps = [signs, signs, signs.map((s) => -s)];
    // The rule worked out by hand: the step, the eps ball, the box (delta is what the box lets through).
    let delta = x0.map(() => 0);
    const expected: number[][] = [x0];
    for (const step of steps) {
      delta = delta.map((d, i) => {
        const moved = Math.min(eps, Math.max(-eps, d + eps * step[i]));
        return Math.min(1, Math.max(0, x0[i] + moved)) - x0[i];
      });
      expected.push(x0.map((x, i) => x + delta[i]));
    }
    const perturbed = (): tf.Variable => {
      const input = tf.tidy(() => inner.perturb(ctx, edgeImages, () => tf.scalar(0), false));
      expect(inner.freeInput()).toBe(input);
      return inner.freeInput() as tf.Variable;
    };
    for (let replay = 0; replay <= steps.length; replay++) {
      const input = perturbed();
      const values = input.dataSync();
      values.forEach((v, i) => expect(v).toBeCloseTo(expected[replay][i], 5));
      const { perturbation, low, high } = bounds(input, edgeImages);
      expect(perturbation).toBeLessThanOrEqual(eps + 1e-6);
      expect(low).toBeGreaterThanOrEqual(0);
      expect(high).toBeLessThanOrEqual(1);
      if (replay < steps.length) {
        const gradient = tf.tensor4d(steps[replay], edgeImages.shape);
        inner.ascend(gradient);
        gradient.dispose();
        expect(inner.freeInput()).toBeNull();
      }
      input.dispose(); // the trainer disposes the crafted tensors
    }
    // The walk went somewhere and came partly back: both moves happened.
    expect(expected[1].some((v, i) => Math.abs(v - x0[i]) > eps / 2)).toBe(true);
    expect(
      expected[3].some((v, i) => Math.abs(v - x0[i]) < 1e-6 && x0[i] > eps && x0[i] < 1 - eps),
    ).toBe(true);
    inner.dispose();
    embedder.dispose();
  });

  it('free: each replay runs exactly one backward pass, serving the weights and the perturbation', () => {
    const embedder = trainableEmbedder(shape, 6, 3);
    const optimizer = tf.train.adam(0.01);
    const eps = 0.1;
    const defense = createDefense('naive', { eps, inner: 'free', freeReplays: 4 });
    const seen: { perturbation: number; low: number; high: number }[] = [];
    const recording: Defense = {
      name: defense.name,
      config: defense.config,
      inner: defense.inner,
      craft: (ctx) => {
        const crafted = defense.craft(ctx);
        seen.push(bounds(crafted[0], ctx.batch.images));
        return crafted;
      },
      objective: (ctx, crafted) => defense.objective(ctx, crafted),
    };
    const weightsBefore = embedder.variables[0].dataSync().slice();
    const backward = countBackwardPasses();
    try {
      for (let replay = 0; replay < 4; replay++)
        defenseTrainStep(embedder, recording, optimizer, { images: edgeImages, labels }, replay);
      expect(backward.count()).toBe(4);
    } finally {
      backward.restore();
    }
    expect(seen[0].perturbation).toBe(0);
    for (const replay of seen.slice(1)) {
      expect(replay.perturbation).toBeGreaterThan(eps / 2);
      expect(replay.perturbation).toBeLessThanOrEqual(eps + 1e-6);
      expect(replay.low).toBeGreaterThanOrEqual(0);
      expect(replay.high).toBeLessThanOrEqual(1);
    }
    expect(embedder.variables[0].dataSync()).not.toEqual(weightsBefore);
    defense.inner?.dispose();
    optimizer.dispose();
    embedder.dispose();
  });

  it('the same counter sees PGD-k take k + 1 backward passes per step and fast 2', () => {
    const embedder = trainableEmbedder(shape, 6, 3);
    const optimizer = tf.train.adam(0.01);
    const cases: [DefenseOptions, number][] = [
      [{ eps: 0.1, steps: 3 }, 4],
      [{ eps: 0.1, inner: 'fast' }, 2],
    ];
    for (const [options, expected] of cases) {
      const backward = countBackwardPasses();
      try {
        defenseTrainStep(
          embedder,
          createDefense('panum', options),
          optimizer,
          { images, labels },
          0,
        );
        expect(backward.count()).toBe(expected);
      } finally {
        backward.restore();
      }
    }
    optimizer.dispose();
    embedder.dispose();
  });

  const methods: [string, DefenseOptions][] = [
    ...['panum', 'naive', 'est', 'act', 'hm', 'hm-ics'].map((name): [string, DefenseOptions] => [
      name,
      { inner: 'fast' },
    ]),
    ['panum', { inner: 'free', freeReplays: 2 }],
    ['naive', { inner: 'free', freeReplays: 2 }],
  ];
  it.each(methods)(
    '%s %j: training steps are finite and return the tensor count to where it started',
    (name, options) => {
      const embedder = trainableEmbedder(shape, 6, 3);
      const optimizer = tf.train.adam(0.01);
      const defense = createDefense(name, { eps: 0.1, ...options });
      const batch = { images, labels };
      defenseTrainStep(embedder, defense, optimizer, batch, 0); // creates the optimizer slots (and free's delta)
      const before = tf.memory().numTensors;
      const losses = [1, 2, 3].map((step) =>
        defenseTrainStep(embedder, defense, optimizer, batch, step),
      );
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      defense.inner?.dispose();
      optimizer.dispose();
      embedder.dispose();
    },
  );

  it('records the method in the defence config (the manifest)', () => {
    expect(createDefense('est', { inner: 'fast' }).config.inner).toEqual({
      method: 'fast',
      onOverfit: 'fallback',
    });
    expect(
      createDefense('panum', { inner: 'free', freeReplays: 3, onOverfit: 'stop' }).config.inner,
    ).toEqual({ method: 'free', replays: 3, onOverfit: 'stop' });
    expect(createDefense('hm').config.inner).toEqual({ method: 'pgd' });
  });

  it('rejects free where the attack is not the training loss, and bad settings, before any work', () => {
    for (const name of ['est', 'act', 'hm', 'hm-ics']) {
      expect(() => createDefense(name, { inner: 'free' })).toThrow(
        new RegExp(`inner free trains panum and naive only .*not ${name}: it crafts`),
      );
    }
    expect(() => createDefense('none', { inner: 'fast' })).toThrow(
      /defence none has no inner maximisation/,
    );
    expect(() => createDefense('panum', { inner: 'bogus' as never })).toThrow(
      /unknown inner maximisation 'bogus': valid ones are pgd, fast, free/,
    );
    expect(() => createDefense('panum', { inner: 'free', freeReplays: 0 })).toThrow(
      /free replays must be an integer in \[1, 64\]/,
    );
    expect(() => createDefense('panum', { inner: 'fast', freeReplays: 2 })).toThrow(
      /free replays apply to the free inner maximisation only/,
    );
    expect(() => createDefense('panum', { onOverfit: 'stop' })).toThrow(
      /applies to inner fast and free only/,
    );
    expect(() => createDefense('panum', { inner: 'fast', onOverfit: 'panic' as never })).toThrow(
      /unknown overfitting action 'panic': valid ones are warn, stop, fallback/,
    );
  });

  it('falls back to PGD: no free input and one optimizer step per batch from then on', () => {
    const defense = createDefense('panum', { eps: 0.1, inner: 'free', freeReplays: 4 });
    expect(defense.inner?.replays).toBe(4);
    defense.inner?.fallBackToPgd(3);
    expect(defense.inner?.method).toBe('pgd');
    expect(defense.inner?.replays).toBe(1);
    expect(defense.inner?.freeInput()).toBeNull();
    expect(defense.config.inner).toEqual({
      method: 'free',
      replays: 4,
      onOverfit: 'fallback',
      fellBackToPgdAfterEpoch: 3,
    });
  });
});
