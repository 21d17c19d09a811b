import { initBackend, tf } from '../backend';
import {
  batchHardTripletLoss,
  defenseTrainStep,
  prototypeBatch,
  PROTOTYPE_SHAPE as shape,
  trainableEmbedder,
} from '../../../test/support/attack-fixtures';
import { DEFENSE_NAMES, createDefense } from './index';

describe('defences', () => {
  let images: tf.Tensor4D;
  let labels: tf.Tensor1D;

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
    // 4 classes x 4 images: an m-per-class batch.
    ({ images, labels } = prototypeBatch());
  });
  afterAll(() => tf.dispose([images, labels]));

  it('rejects unknown names and bad options before any work', () => {
    expect(() => createDefense('madry')).toThrow(
      /unknown defence 'madry': known defences are none, panum, naive, est, act, hm, hm-ics/,
    );
    expect(() => createDefense('panum', { eps: 1.2 })).toThrow(/training eps must be in \[0, 1\]/);
    expect(() => createDefense('est', { steps: 0 })).toThrow(/positive integer/);
    expect(() => createDefense('hm', { weight: -1 })).toThrow(/adversarial weight/);
  });

  it('records its training options in config (the manifest)', () => {
    const defense = createDefense('panum', { eps: 0.3, steps: 4, alpha: 0.2, weight: 0.5 });
    expect(defense.config).toMatchObject({
      defense: 'panum',
      eps: 0.3,
      steps: 4,
      alpha: 0.2,
      weight: 0.5,
    });
    expect(createDefense('hm-ics').config).toMatchObject({ defense: 'hm-ics', icsWeight: 0.5 });
    expect(createDefense('panum', { eps: 0.3, steps: 5 }).config.alpha).toBeCloseTo(0.15, 10);
  });

  it.each([['panum'], ['naive'], ['est']] as const)(
    '%s crafts inside the eps ball and the pixel box',
    (name) => {
      const embedder = trainableEmbedder(shape, 6, 2);
      const eps = 0.1;
      const defense = createDefense(name, { eps, steps: 3 });
      const crafted = defense.craft({
        embedder,
        loss: batchHardTripletLoss,
        batch: { images, labels },
        step: 0,
      });
      const [perturbation, low, high] = tf.tidy(() => {
        const source = name === 'panum' ? tf.gather(images, crafted[1]) : images;
        const delta = tf.abs(tf.sub(crafted[0], source));
        return [
          tf.max(delta).dataSync()[0],
          tf.min(crafted[0]).dataSync()[0],
          tf.max(crafted[0]).dataSync()[0],
        ];
      });
      expect(perturbation).toBeLessThanOrEqual(eps + 1e-6);
      expect(perturbation).toBeGreaterThan(eps / 2);
      expect(low).toBeGreaterThanOrEqual(0);
      expect(high).toBeLessThanOrEqual(1);
      tf.dispose(crafted);
      embedder.dispose();
    },
  );

  it.each(DEFENSE_NAMES.map((n) => [n]))(
    '%s: a training step returns the tensor count to where it started',
    (name) => {
      const embedder = trainableEmbedder(shape, 6, 3);
      const optimizer = tf.train.adam(0.01);
      defenseTrainStep(
        embedder,
        createDefense(name, { eps: 0.1, steps: 2 }),
        optimizer,
        { images, labels },
        0,
      ); // creates the optimizer slots
      const before = tf.memory().numTensors;
      const loss = defenseTrainStep(
        embedder,
        createDefense(name, { eps: 0.1, steps: 2 }),
        optimizer,
        { images, labels },
        1,
      );
      expect(Number.isFinite(loss)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      optimizer.dispose();
      embedder.dispose();
    },
  );

  it('a short panum run lowers its training loss', () => {
    const embedder = trainableEmbedder(shape, 6, 4);
    const optimizer = tf.train.adam(0.02);
    const defense = createDefense('panum', { eps: 0.05, steps: 3 });
    const losses: number[] = [];
    for (let step = 0; step < 30; step++)
      losses.push(defenseTrainStep(embedder, defense, optimizer, { images, labels }, step));
    const first = (losses[0] + losses[1] + losses[2]) / 3;
    const last = (losses[27] + losses[28] + losses[29]) / 3;
    expect(last).toBeLessThan(0.8 * first);
    optimizer.dispose();
    embedder.dispose();
  });
});
