import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { probeTorch } from './benchmark';
import {
  benchProductionModel,
  classLabels,
  describeTfjsModel,
  describeTorchModel,
  PRODUCTION_SHAPES,
  TORCH_PRODUCTION_SCRIPT,
  type ProductionShape,
} from './production';

/** Tiny shapes: every mode runs in seconds (the small CNN takes any size, MobileNetV2 at least 32). */
const TINY: Record<'small-cnn' | 'mobilenetv2-early', ProductionShape> = {
  'small-cnn': { size: 16, batch: 8, perClass: 2, inferBatch: 6 },
  'mobilenetv2-early': { size: 32, batch: 8, perClass: 2, inferBatch: 4 },
};

describe('production modes of rir bench (the trainer, defence and embedding code, timed)', () => {
  beforeAll(() => initBackend('wasm'));

  it('lays a batch out as whole classes of perClass images', () => {
    expect(Array.from(classLabels(8, 2))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it('times the small CNN train, panum7 and infer steps on one thread and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const rows = await benchProductionModel({
      model: 'small-cnn',
      steps: ['train', 'panum7', 'infer'],
      workers: 1,
      reps: 1,
      warmup: 0,
      shape: TINY['small-cnn'],
      backend: 'wasm',
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => [r.mode, r.batch, r.height, r.channels, r.threads])).toEqual([
      ['small-cnn:train', 8, 16, 1, 1],
      ['small-cnn:panum7', 8, 16, 1, 1],
      ['small-cnn:infer', 6, 16, 1, 1],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ framework: 'tfjs', backend: 'wasm' });
      expect(row.median_ms).toBeGreaterThan(0);
      expect(row.img_per_s).toBeGreaterThan(0);
    }
  });

  it('times MobileNetV2-early train and infer on one thread and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const rows = await benchProductionModel({
      model: 'mobilenetv2-early',
      steps: ['train', 'infer'],
      workers: 1,
      reps: 1,
      warmup: 0,
      shape: TINY['mobilenetv2-early'],
      backend: 'wasm',
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => [r.mode, r.batch, r.height, r.channels, r.threads])).toEqual([
      ['mobilenetv2-early:train', 8, 32, 3, 1],
      ['mobilenetv2-early:infer', 4, 32, 3, 1],
    ]);
    for (const row of rows) expect(row.img_per_s).toBeGreaterThan(0);
  });

  it("runs two workers through the trainer's gradient workers and two inference threads", async () => {
    const before = tf.memory().numTensors;
    const rows = await benchProductionModel({
      model: 'small-cnn',
      steps: ['panum7', 'infer'],
      workers: 2,
      reps: 1,
      warmup: 0,
      shape: TINY['small-cnn'],
      backend: 'wasm',
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => [r.mode, r.batch, r.threads])).toEqual([
      ['small-cnn:panum7', 8, 2],
      ['small-cnn:infer', 6, 2],
    ]);
    for (const row of rows) expect(row.img_per_s).toBeGreaterThan(0);
  });

  it('refuses a batch that cannot feed every worker whole classes', async () => {
    await expect(
      benchProductionModel({
        model: 'small-cnn',
        steps: ['train'],
        workers: 3,
        reps: 1,
        warmup: 0,
        shape: { size: 16, batch: 4, perClass: 2, inferBatch: 4 },
      }),
    ).rejects.toThrow('a batch of 2 classes cannot feed 3 workers');
  });
});

describe('the PyTorch counterparts build the same models (torch_production.py --describe)', () => {
  const probe = probeTorch('python3');
  const script = path.resolve(__dirname, '..', '..', TORCH_PRODUCTION_SCRIPT);
  const withTorch = 'error' in probe ? it.skip : it;
  if ('error' in probe) console.warn(`skipping the PyTorch counterpart checks: ${probe.error}`); // visible in the run

  beforeAll(() => initBackend('wasm'));

  for (const model of ['small-cnn', 'mobilenetv2-early'] as const) {
    withTorch(
      `${model}: the same layers with weights, weight counts and trainable weights as the tfjs model`,
      async () => {
        const shape = PRODUCTION_SHAPES[model];
        const tfjs = await describeTfjsModel(model, shape);
        const torch = describeTorchModel('python3', script, model, shape);
        expect(torch).toEqual(tfjs);
        expect(tfjs.params).toBe(model === 'small-cnn' ? 363_808 : 1_688_064);
      },
    );
  }
});
