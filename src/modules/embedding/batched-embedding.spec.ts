import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { MicroBatcher } from '../../common/micro-batcher';
import { writeTinyModel } from '../../../test/search/fixtures';
import { ModelEmbedder } from './model-embedder';

/**
 * The micro-batcher in front of the model's worker thread, as search by upload uses it: concurrent
 * queries share one embedding call, and each gets the vector it would have got alone.
 */
describe('MicroBatcher over the embedding worker', () => {
  let dir: string;
  let embedder: ModelEmbedder;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rir-batched-'));
    embedder = await ModelEmbedder.start(await writeTinyModel(dir, 'tiny', 4, 12));
  });
  afterAll(async () => {
    await embedder?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const image = (seed: number) =>
    Float32Array.from({ length: 64 }, (_, i) => ((i * 29 + seed * 13) % 89) / 89);

  const batcherOf = (maxBatch: number, sizes: number[]) =>
    new MicroBatcher<Float32Array, Float32Array>({
      // Far longer than the test: only a full batch can leave, so the queries share one call.
      windowMs: 600_000,
      maxBatch,
      run: (images) => embedder.embed(images),
      validate: (pixels) => {
        if (pixels.length !== embedder.pixelsPerImage) throw new Error('wrong image size');
      },
      onBatch: (size) => sizes.push(size),
    });

  it('gives each of N concurrent queries its own embedding, equal to the unbatched one', async () => {
    const n = 16;
    const images = Array.from({ length: n }, (_, i) => image(i));
    const alone: Float32Array[] = [];
    for (const pixels of images) alone.push((await embedder.embed([pixels]))[0]);
    const sizes: number[] = [];
    const batcher = batcherOf(n, sizes);
    const batched = await Promise.all(images.map((pixels) => batcher.submit(pixels)));
    expect(sizes).toEqual([n]);
    batched.forEach((vector, i) => {
      expect(vector).toHaveLength(12);
      vector.forEach((value, d) => expect(Math.abs(value - alone[i][d])).toBeLessThan(1e-5));
    });
    // Different images, different vectors: nobody got another query's row.
    expect(batched[0]).not.toEqual(batched[1]);
  });

  it('refuses a malformed query alone; the queries around it get their embeddings', async () => {
    const sizes: number[] = [];
    const batcher = batcherOf(3, sizes);
    const results = await Promise.allSettled([
      batcher.submit(image(1)),
      batcher.submit(new Float32Array(10)),
      batcher.submit(image(2)),
      batcher.submit(image(3)),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(sizes).toEqual([3]);
    const [expected] = await embedder.embed([image(3)]);
    const got = (results[3] as PromiseFulfilledResult<Float32Array>).value;
    got.forEach((value, d) => expect(Math.abs(value - expected[d])).toBeLessThan(1e-5));
  });
});
