import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { embedAll, evaluateRetrieval } from '../metrics';
import { createEmbeddingModel } from '../models';
import { trainEmbeddingModel } from '../training';
import { loadDataset } from './datasets';

// A few steps of MobileNetV2 fine-tuning on a few hundred rendered icons: the path `rir train --dataset
// iconify --backbone mobilenetv2` takes, small enough for CI.
let dir: string;
const previousCache = process.env.RIR_DATA_CACHE;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-iconify-train-'));
  process.env.RIR_DATA_CACHE = path.join(dir, 'cache');
});

afterAll(async () => {
  if (previousCache === undefined) delete process.env.RIR_DATA_CACHE;
  else process.env.RIR_DATA_CACHE = previousCache;
  await fs.rm(dir, { recursive: true, force: true });
});

describe('MobileNetV2 on iconify', () => {
  it('fine-tunes a few steps on RGB icons and retrieves held-out concepts far above chance', async () => {
    const config = {
      dataset: 'iconify:classes=8',
      backbone: 'mobilenetv2' as const,
      imageSize: 32,
      embeddingDim: 32,
      batchSize: 16,
      perClass: 4,
      stepsPerEpoch: 2,
      epochs: 1,
      learningRate: 1e-4,
      seed: 2,
      maxTrain: 96,
      maxValidation: 8,
      maxTest: 64,
      outDir: path.join(dir, 'model'),
    };
    const losses: number[] = [];
    const result = await trainEmbeddingModel(config, {
      onProgress: (e) => {
        if (e.phase === 'train' && e.loss !== undefined) losses.push(e.loss);
      },
    });
    expect(losses).toHaveLength(2);
    for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
    expect(result.manifest.inputShape).toEqual([32, 32, 3]);
    expect(result.metrics.count).toBe(64);
    // 4 test concepts of about 16 images: a random ranking gives R@1 near 0.24.
    expect(result.metrics.recallAt1).toBeGreaterThan(0.4);

    // The frozen-feature baseline of `rir eval --pretrained-baseline` on the same test images.
    const split = await loadDataset('iconify:classes=8', {
      seed: 2,
      imageSize: { height: 32, width: 32, channels: 3 },
      maxTrain: 0,
      maxValidation: 0,
      maxTest: 64,
    });
    const frozen = await createEmbeddingModel({ backbone: 'mobilenetv2', inputShape: [32, 32, 3], head: false });
    const before = tf.memory().numTensors;
    const features = embedAll(frozen, split.test, 32);
    expect(tf.memory().numTensors).toBe(before);
    frozen.dispose();
    const metrics = evaluateRetrieval(features, 1280, split.test.labels, { seed: 2 });
    expect(features).toHaveLength(split.test.labels.length * 1280);
    expect(metrics.recallAt1).toBeGreaterThan(0.4);
  });
});
