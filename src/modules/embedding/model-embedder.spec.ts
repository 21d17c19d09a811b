import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../ml/backend';
import { loadModel } from '../../ml/model-store';
import { writeTinyModel } from '../../../test/search/fixtures';
import { HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { ModelEmbedder } from './model-embedder';

describe('ModelEmbedder (worker thread)', () => {
  let dir: string;
  let modelDir: string;
  let embedder: ModelEmbedder;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rir-embedder-'));
    modelDir = await writeTinyModel(dir, 'tiny', 3, 12);
    embedder = await ModelEmbedder.start(modelDir, { maxBatch: 4 });
  });
  afterAll(async () => {
    await embedder?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const linux = process.platform === 'linux' ? it : it.skip;
  linux(
    'runs the worker thread at the nice value asked for and leaves this thread alone',
    async () => {
      const before = os.getPriority();
      const niceEmbedder = await ModelEmbedder.start(modelDir, { threadNice: 6 });
      try {
        expect(niceEmbedder.threadNice).toBe(Math.max(6, before));
        expect(os.getPriority()).toBe(before);
        // The default keeps the caller's priority.
        expect(embedder.threadNice).toBe(before);
      } finally {
        await niceEmbedder.close();
      }
    },
  );

  const image = (seed: number) =>
    Float32Array.from({ length: 64 }, (_, i) => ((i * 31 + seed * 17) % 97) / 97);

  it('reports the model shape and gives the same L2-normalised vectors as the model in this thread', async () => {
    expect(embedder.embeddingDim).toBe(12);
    expect(embedder.inputShape).toEqual([8, 8, 1]);
    const images = [image(1), image(2), image(3)];
    // Concurrent requests are batched together (maxBatch 4 splits these into two batches).
    const results = await Promise.all([
      embedder.embed(images.slice(0, 2)),
      embedder.embed(images.slice(2)),
      embedder.embed([image(4), image(5)]),
    ]);
    const vectors = results.flat();
    expect(vectors).toHaveLength(5);
    await initBackend(process.env.TFJS_BACKEND);
    const local = await loadModel(modelDir);
    const expected = tf.tidy(() =>
      local
        .embed(
          tf.tensor4d(
            Float32Array.from([...images, image(4), image(5)].flatMap((x) => [...x])),
            [5, 8, 8, 1],
          ),
        )
        .arraySync(),
    );
    local.dispose();
    vectors.forEach((vector, i) => {
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
      vector.forEach((value, d) => expect(value).toBeCloseTo(expected[i][d], 5));
    });
  });

  it('rejects an image of the wrong size, naming both shapes', async () => {
    await expect(embedder.embed([new Float32Array(10)])).rejects.toThrow(
      'expected images of [8, 8, 1] (64 values), got 10',
    );
  });

  it('fails to start on a directory without a model', async () => {
    await expect(ModelEmbedder.start(path.join(dir, 'missing'))).rejects.toThrow(
      /cannot load model/,
    );
  });

  it('answers a request still waiting when it closes (shutdown, redeploy) with a retryable 503, not a 500', async () => {
    const closing = await ModelEmbedder.start(modelDir, { maxBatch: 1 });
    const images = Array.from({ length: 8 }, () => new Float32Array(64).fill(0.5));
    // Several batches queued: the later ones are still waiting when close() retires the model.
    const settled = Promise.allSettled(images.map((image) => closing.embed([image])));
    await closing.close();
    const outcomes = await settled;
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const { reason } of refused) {
      expect(reason).toBeInstanceOf(ServiceUnavailableException);
      expect((reason as ServiceUnavailableException).getStatus()).toBe(
        HttpStatus.SERVICE_UNAVAILABLE,
      );
      expect((reason as Error).message).toMatch(/retry the request/);
    }
    // A request after the close is refused the same way.
    await expect(closing.embed([images[0]])).rejects.toBeInstanceOf(ServiceUnavailableException);
  });
});
