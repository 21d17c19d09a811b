import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { loadDataset } from '../data';
import { selectImages } from '../data/split';
import { createDefense } from '../defenses';
import { createLoss } from '../losses';
import { loadModelVersion, saveModel } from '../model-store';
import { applyGradients, computeGradients } from '../training/step';
import type { ImageSet, TrainingBatch } from '../types';
import { C2F2_HIDDEN_UNITS } from './c2f2';
import { BACKBONES, backboneChannels, createEmbeddingModel, type EmbeddingModel } from '.';

let batchImages: ImageSet;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  // 4 images of each of 4 digits: an m-per-class batch of real MNIST images.
  const split = await loadDataset('mnist-all', {
    seed: 2,
    maxTrain: 400,
    maxValidation: 0,
    maxTest: 0,
  });
  const picked: number[] = [];
  for (const digit of [1, 3, 5, 7]) {
    let found = 0;
    split.train.labels.forEach((label, i) => {
      if (label === digit && found < 4) {
        picked.push(i);
        found++;
      }
    });
  }
  batchImages = selectImages(split.train, picked);
});

const c2f2 = (embeddingDim: number, seed = 0): Promise<EmbeddingModel> =>
  createEmbeddingModel({ backbone: 'c2f2', inputShape: [28, 28, 1], embeddingDim, seed });

describe('c2f2 backbone', () => {
  it("is RobRank's two conv + two dense layers and gives L2-normalised embeddings of the asked dimension", async () => {
    expect(BACKBONES).toContain('c2f2');
    expect(backboneChannels('c2f2')).toBe(1);
    const model = await c2f2(512);
    const shapes = Object.fromEntries(
      model.model.layers
        .filter((layer) => layer.getWeights().length > 0)
        .map((layer) => [layer.name, layer.getWeights()[0].shape]),
    );
    expect(shapes).toEqual({
      conv1: [5, 5, 1, 32],
      conv2: [5, 5, 32, 64],
      fc1: [7 * 7 * 64, C2F2_HIDDEN_UNITS],
      embedding: [C2F2_HIDDEN_UNITS, 512],
    });
    expect(model.model.layers.some((layer) => layer.getClassName() === 'BatchNormalization')).toBe(
      false,
    );
    const before = tf.memory().numTensors;
    const { norms, spread } = tf.tidy(() => {
      const images = tf.tensor4d(batchImages.images, [16, 28, 28, 1]);
      const e = model.embed(images);
      expect(e.shape).toEqual([16, 512]);
      return {
        norms: Array.from(tf.norm(e, 2, 1).dataSync()),
        spread: tf.mean(tf.sum(tf.square(tf.sub(e, tf.mean(e, 0, true))), 1)).dataSync()[0],
      };
    });
    expect(tf.memory().numTensors).toBe(before);
    norms.forEach((n) => expect(n).toBeCloseTo(1, 5));
    expect(spread).toBeGreaterThan(0.01); // distinct digits do not start on one point
    expect(() => model.embed(tf.zeros([1, 28, 28, 3]) as tf.Tensor4D)).toThrow(
      'expected images of shape [B, 28, 28, 1], got [1, 28, 28, 3]',
    );
    model.dispose();
    await expect(
      createEmbeddingModel({ backbone: 'c2f2', inputShape: [28, 28, 1], head: false }),
    ).rejects.toThrow(/no pretrained features/);
  });

  it.each(['none', 'act'])(
    'trains under %s: the loss on a fixed batch falls and no tensor is left behind',
    async (defenseName) => {
      const model = await c2f2(32, 1);
      const loss = createLoss('triplet');
      const defense = createDefense(defenseName, { eps: 77 / 255, steps: 2, alpha: 0.2 });
      const optimizer = tf.train.adam(1e-3);
      const batch: TrainingBatch = {
        images: tf.tensor4d(batchImages.images, [16, 28, 28, 1]),
        labels: tf.tensor1d(batchImages.labels, 'int32'),
      };
      const step = (i: number): number => {
        const { loss: value, grads } = computeGradients(
          model,
          model.trainableVariables,
          defense,
          loss.compute,
          batch,
          i,
        );
        applyGradients(optimizer, grads);
        return value;
      };
      const first = step(0); // creates Adam's slots
      const before = tf.memory().numTensors;
      const losses = [first];
      for (let i = 1; i < 8; i++) losses.push(step(i));
      expect(tf.memory().numTensors).toBe(before);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(first).toBeGreaterThan(0);
      expect(Math.min(...losses.slice(-3))).toBeLessThan(first);
      tf.dispose([batch.images, batch.labels]);
      optimizer.dispose();
      loss.dispose();
      model.dispose();
    },
  );

  it('saves and loads through the model store: the manifest names c2f2, embeddings are bit-identical', async () => {
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'c2f2-')), 'v1');
    const model = await c2f2(16, 3);
    const images = tf.tensor4d(batchImages.images, [16, 28, 28, 1]);
    const before = tf.tidy(() => model.embed(images).dataSync());
    await saveModel(dir, model, { loss: { name: 'triplet', config: { margin: 0.2 } } });
    const { model: loaded, manifest } = await loadModelVersion(dir);
    expect(manifest.backbone).toBe('c2f2');
    expect(manifest.inputShape).toEqual([28, 28, 1]);
    expect(manifest.embeddingDim).toBe(16);
    expect(loaded.spec.backbone).toBe('c2f2');
    const after = tf.tidy(() => loaded.embed(images).dataSync());
    expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);
    tf.dispose(images);
    model.dispose();
    loaded.dispose();
  });
});
