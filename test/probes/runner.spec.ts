/**
 * The probe runner's pieces that need no app: request parsing, and the samples runAttack keeps for a
 * probe (keepSamples) being the ones its figures were measured on, so examples and the CA+ rank
 * distribution show those perturbations.
 */
import { ATTACK_NAMES, parseAttackList } from '../../src/ml/attacks/definitions';
import { linearEmbedder, prototypeImages, randomWeights } from '../support/attack-fixtures';
import { prepareGallery, runAttack, sampleQueries } from '../../src/ml/attacks/suite';
import { initBackend, tf } from '../../src/ml/backend';
import {
  amplifiedPerturbation,
  exampleLayout,
} from '../../src/modules/probes/runner/example-layout';
import { parseEps } from '../../src/modules/probes/runner/probe-config';

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
});

describe('probe request parsing', () => {
  it('reads eps as a number or a fraction', () => {
    expect(parseEps(0.25)).toBe(0.25);
    expect(parseEps('77/255')).toBeCloseTo(77 / 255, 12);
    expect(parseEps('0.1')).toBe(0.1);
    expect(parseEps('abc')).toBeNaN();
    expect(parseEps(null)).toBeNaN();
  });

  it('reads attack lists, all, and names the unknown ones', () => {
    expect(parseAttackList('all')).toEqual([...ATTACK_NAMES]);
    expect(parseAttackList(['es', 'CA+', 'ES'])).toEqual(['ES', 'CA+']);
    expect(parseAttackList('GTM, ltm')).toEqual(['GTM', 'LTM']);
    expect(() => parseAttackList(['ES', 'FGSM', 'PGD'])).toThrow(
      /unknown attacks 'FGSM', 'PGD': known attacks are CA\+/,
    );
    expect(() => parseAttackList([])).toThrow(/at least one attack/);
    expect(() => parseAttackList(3)).toThrow(/list of names/);
  });

  it('lays examples out as three enlarged panels and maps the perturbation around mid-grey', () => {
    expect(exampleLayout([28, 28, 1])).toEqual({ width: 3 * 112 + 8, height: 112, scale: 4 });
    expect(exampleLayout([224, 224, 3])).toEqual({ width: 3 * 224 + 8, height: 224, scale: 1 });
    const grey = amplifiedPerturbation(
      Float32Array.from([0.5, 0.5, 0.5]),
      Float32Array.from([0.5, 0.6, 0.45]),
    );
    expect(Array.from(grey)).toEqual([128, 255, 64]);
  });
});

describe('runAttack keeping its samples', () => {
  const shape: [number, number, number] = [4, 4, 1];
  const set = prototypeImages(shape, 5, 8, 12);
  let embedder: ReturnType<typeof linearEmbedder>;
  beforeAll(() => {
    embedder = linearEmbedder(shape, randomWeights(16, 8, 11));
  });
  afterAll(() => embedder.dispose());

  it.each(ATTACK_NAMES.map((a) => [a]))(
    '%s: per-sample figures average to runAttack figures, and images stay in the ball',
    (attack) => {
      const gallery = prepareGallery(embedder, set);
      try {
        const options = {
          eps: 0.15,
          alpha: 0.02,
          steps: 6,
          seed: 4,
          batchSize: 3,
          queriesPerCandidate: 2,
        };
        const rows = sampleQueries(gallery, 7, 4);
        const before = tf.memory().numTensors;
        const kept = runAttack(embedder, gallery, attack, rows, { ...options, keepSamples: true });
        expect(tf.memory().numTensors).toBe(before);
        const samples = kept.attacked ?? [];
        const run = runAttack(embedder, gallery, attack, rows, options);
        expect(run.attacked).toBeUndefined();
        expect(kept.figures).toEqual(run.figures);
        expect(samples.map((s) => s.row)).toEqual(rows);
        for (const [metric, value] of Object.entries(run.figures)) {
          const values = samples.map((s) => s.figures[metric as keyof typeof s.figures] as number);
          expect(values.reduce((a, b) => a + b, 0) / values.length).toBeCloseTo(value, 9);
        }
        const per = 16;
        for (const s of samples) {
          for (let i = 0; i < per; i++)
            expect(Math.abs(s.adversarial[i] - set.images[s.row * per + i])).toBeLessThanOrEqual(
              0.15 + 1e-6,
            );
        }
      } finally {
        gallery.dispose();
      }
    },
  );
});
