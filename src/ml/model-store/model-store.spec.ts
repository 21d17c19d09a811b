import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { createEmbeddingModel } from '../models';
import { loadModelVersion, readManifest, saveModel } from '.';

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

describe('model store', () => {
  it('round-trips a model: load -> embed is bit-identical, the manifest describes it', async () => {
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'store-')), 'v1');
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: [28, 28, 1],
      embeddingDim: 8,
      seed: 3,
    });
    const input = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const before = tf.tidy(() => model.embed(input).dataSync());
    const saved = await saveModel(dir, model, {
      loss: { name: 'triplet', config: { margin: 0.2 } },
      metrics: { recallAt1: 0.5 },
    });
    expect(saved.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    const { model: loaded, manifest } = await loadModelVersion(dir);
    expect(manifest).toEqual(await readManifest(dir));
    expect(manifest.backbone).toBe('small-cnn');
    expect(manifest.inputShape).toEqual([28, 28, 1]);
    expect(manifest.embeddingDim).toBe(8);
    expect(manifest.loss?.name).toBe('triplet');
    const after = tf.tidy(() => loaded.embed(input).dataSync());
    expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);

    // Saving again over the same folder replaces the version and leaves no temporary files.
    const second = await saveModel(dir, loaded);
    expect(second.id).not.toBe(saved.id);
    expect((await fs.readdir(dir)).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);

    // A corrupted weights file is refused.
    const weights = path.join(dir, 'weights.bin');
    const bytes = await fs.readFile(weights);
    bytes[10] ^= 0xff;
    await fs.writeFile(weights, bytes);
    await expect(loadModelVersion(dir)).rejects.toThrow(/do not match the manifest/);
    await expect(loadModelVersion(path.join(dir, 'nope'))).rejects.toThrow(/no model version/);
    tf.dispose(input);
    model.dispose();
    loaded.dispose();
  });
});
