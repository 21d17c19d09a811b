import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../ml/backend';
import { loadModel } from '../../ml/model-store';
import type { Embedder } from '../../ml/types';
import { writeTinyModel } from '../../../test/search/fixtures';
import { embedBatch, embedBatchAsync } from './embed-batch';

describe('embedBatch (the embedding worker step)', () => {
  let dir: string;
  let model: Awaited<ReturnType<typeof loadModel>>;

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
    dir = mkdtempSync(path.join(tmpdir(), 'rir-embed-batch-'));
    model = await loadModel(await writeTinyModel(dir, 'tiny', 5, 12));
  });
  afterAll(() => {
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const images = (count: number) =>
    Float32Array.from({ length: count * 64 }, (_, i) => ((i * 37) % 101) / 101);

  it('embeds a batch as the model does, leaving no tensor behind', () => {
    const before = tf.memory().numTensors;
    const vectors = embedBatch(model, images(5), 5);
    expect(tf.memory().numTensors).toBe(before);
    expect(vectors).toHaveLength(5 * 12);
    const expected = tf.tidy(
      () => model.embed(tf.tensor4d(images(5), [5, 8, 8, 1])).dataSync() as Float32Array,
    );
    vectors.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 6));
  });

  it('embedBatchAsync (for webgpu) gives the same values in a transferable buffer of its own', async () => {
    const before = tf.memory().numTensors;
    const vectors = await embedBatchAsync(model, images(5), 5);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(vectors)).toEqual(Array.from(embedBatch(model, images(5), 5)));
    expect(vectors.byteOffset).toBe(0);
    expect(vectors.buffer.byteLength).toBe(5 * 12 * 4);
    await expect(embedBatchAsync(model, images(5), 4)).rejects.toThrow('expected 4 images');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves no tensor behind when the size is wrong or the model throws', () => {
    const before = tf.memory().numTensors;
    expect(() => embedBatch(model, images(2), 3)).toThrow(
      'expected 3 images of [8, 8, 1] (192 values), got 128',
    );
    const failing: Embedder = {
      inputShape: [8, 8, 1],
      embeddingDim: 12,
      embed: (batch) => {
        tf.mul(batch, 2); // a tensor made before the failure
        throw new Error('model failed');
      },
    };
    expect(() => embedBatch(failing, images(2), 2)).toThrow('model failed');
    expect(tf.memory().numTensors).toBe(before);
  });
});
