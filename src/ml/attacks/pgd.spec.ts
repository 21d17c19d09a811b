import { initBackend, tf } from '../backend';
import {
  linearEmbedder,
  prototypeImages,
  randomWeights,
} from '../../../test/support/attack-fixtures';
import { pgd, validatePgdOptions } from './pgd';
import { rowDistances } from '../distances';

describe('pgd', () => {
  const shape: [number, number, number] = [4, 4, 1];
  let embedder: ReturnType<typeof linearEmbedder>;
  let x0: tf.Tensor4D;
  let target: tf.Tensor2D;

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
    embedder = linearEmbedder(shape, randomWeights(16, 8, 3));
    const set = prototypeImages(shape, 4, 4, 5);
    x0 = tf.tensor4d(set.images, [16, ...shape]);
    // Pull every image onto the embedding of image 0: a per-sample objective with a known minimum.
    target = tf.tidy(() =>
      tf.tile(embedder.embed(tf.slice(x0, [0, 0, 0, 0], [1, -1, -1, -1])), [16, 1]),
    );
  });

  afterAll(() => {
    tf.dispose([x0, target]);
    embedder.dispose();
  });

  const pull = (e: tf.Tensor2D): tf.Tensor => rowDistances(e, target);

  it.each([
    ['linf', 0.05],
    ['l2', 0.3],
  ] as const)(
    'lowers its objective and stays inside the %s ball of radius %f and the [0,1] box',
    (norm, eps) => {
      const result = pgd(embedder, x0, pull, {
        eps,
        alpha: eps / 4,
        steps: 10,
        norm,
        restarts: 2,
        keepBest: true,
        seed: 1,
      });
      const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
      expect(mean(result.objective)).toBeLessThan(mean(result.initialObjective) - 0.01);
      // Float32 pixels: within one part in a million of eps.
      expect(result.maxPerturbation).toBeLessThanOrEqual(eps + 1e-6);
      expect(result.maxPerturbation).toBeGreaterThan(eps * 0.5);
      const [min, max] = tf.tidy(() => [
        tf.min(result.adversarial).dataSync()[0],
        tf.max(result.adversarial).dataSync()[0],
      ]);
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(result.gradients.nonFinite).toBe(0);
      result.adversarial.dispose();
    },
  );

  it('keeps the worst case per sample over restarts: more restarts never raise the objective', () => {
    const one = pgd(embedder, x0, pull, {
      eps: 0.05,
      alpha: 0.02,
      steps: 3,
      restarts: 1,
      keepBest: true,
      seed: 4,
    });
    const three = pgd(embedder, x0, pull, {
      eps: 0.05,
      alpha: 0.02,
      steps: 3,
      restarts: 3,
      keepBest: true,
      seed: 4,
    });
    three.objective.forEach((v, i) => expect(v).toBeLessThanOrEqual(one.objective[i] + 1e-6));
    tf.dispose([one.adversarial, three.adversarial]);
  });

  it('returns the tensor count to where it started', () => {
    const before = tf.memory().numTensors;
    const result = pgd(embedder, x0, pull, {
      eps: 0.05,
      alpha: 0.01,
      steps: 3,
      restarts: 2,
      keepBest: true,
      randomStart: true,
    });
    result.adversarial.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('momentum carries the step across a sign change of the gradient (MI-FGSM), plain PGD turns back', () => {
    // One pixel x0 = 0.5, objective (x - 0.53)^2, alpha 0.02, 3 steps, eps 0.1.
    // Plain: gradients -0.06, -0.02, +0.02 -> 0.52, 0.54, 0.52.
    // Momentum 1: normalised gradients -1, -1, +1 accumulate to -1, -2, -1 -> 0.52, 0.54, 0.56.
    const pixel = linearEmbedder([1, 1, 1], [[1]], [0.1]);
    const start = tf.tensor4d([0.5], [1, 1, 1, 1]);
    const bowl = (_e: tf.Tensor2D, images: tf.Tensor4D): tf.Tensor =>
      tf.sum(tf.square(tf.sub(images, 0.53)), [1, 2, 3]);
    const finalPixel = (momentum?: number): number => {
      const result = pgd(pixel, start, bowl, { eps: 0.1, alpha: 0.02, steps: 3, momentum });
      const value = result.adversarial.dataSync()[0];
      result.adversarial.dispose();
      return value;
    };
    const before = tf.memory().numTensors;
    expect(finalPixel()).toBeCloseTo(0.52, 6);
    expect(finalPixel(1)).toBeCloseTo(0.56, 6);
    expect(tf.memory().numTensors).toBe(before);
    start.dispose();
    pixel.dispose();
  });

  it.each([
    [{ eps: 0.1, alpha: 0.1, steps: 1, momentum: -1 }, /momentum must be >= 0/],
    [{ eps: 1.5, alpha: 0.1, steps: 1 }, /eps must be in \[0, 1\]/],
    [{ eps: -0.1, alpha: 0.1, steps: 1 }, /eps must be in \[0, 1\]/],
    [{ eps: 0.1, alpha: 0.1, steps: 0 }, /steps must be a positive integer/],
    [{ eps: 0.1, alpha: 0.1, steps: -3 }, /steps must be a positive integer/],
    [{ eps: 0.1, alpha: 0, steps: 2 }, /alpha/],
    [{ eps: 0.1, alpha: 0.1, steps: 2, restarts: 0 }, /restarts/],
  ])('rejects %o before any work', (options, message) => {
    expect(() => validatePgdOptions(options)).toThrow(message);
    expect(() => pgd(embedder, x0, pull, options)).toThrow(message);
  });
});
