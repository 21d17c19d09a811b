import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from './fixtures';

/**
 * Search by upload with its embeddings batched (SEARCH_BATCH_WINDOW_MS, SEARCH_BATCH_MAX): concurrent
 * queries share embedding calls, each still finds its own image, and a bad upload among them fails alone.
 */
describe('search by upload, batched (e2e)', () => {
  let t: TestApp;
  let searchKey: string;
  const images: Buffer[] = [];
  const ids: string[] = [];

  beforeAll(async () => {
    // A long window: batches leave when full (4 queries), so concurrent queries do share a call.
    t = await createTestApp({ env: { SEARCH_BATCH_WINDOW_MS: '1000', SEARCH_BATCH_MAX: '4' } });
    searchKey = await t.keyFor('search');
    await writeTinyModel(t.config.dataDir, 'tiny-batch', 3);
    await deployAndWait(t, 'tiny-batch');
    for (let i = 0; i < 12; i++) images.push(await tinyPng(300 + i));
    let req = t.http.post('/v1/gallery/images').set('x-api-key', t.adminKey);
    for (const image of images) req = req.attach('files', image, 'x.png');
    const res = await req;
    expect(res.status).toBe(201);
    ids.push(...res.body.items.map((item: { id: string }) => item.id));
  });
  afterAll(() => t?.close());

  const byUpload = (image: Buffer) =>
    t.http
      .post('/v1/search')
      .set('x-api-key', searchKey)
      .attach('file', image, 'q.png')
      .field('k', '3');

  const batchMetric = async () => {
    const text = (await t.http.get('/metrics')).text;
    const read = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      sum: read('search_upload_embedding_batch_size_sum'),
      count: read('search_upload_embedding_batch_size_count'),
    };
  };

  it('answers each of 8 concurrent queries with its own image first; a broken upload gets 400 alone', async () => {
    const before = await batchMetric();
    const broken = images[0].subarray(0, images[0].length - 20); // header intact, data cut
    const [bad, ...good] = await Promise.all([
      byUpload(broken),
      ...images.slice(0, 8).map((image) => byUpload(image)),
    ]);
    expect(bad.status).toBe(400);
    good.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.results[0].id).toBe(ids[i]);
      expect(res.body.results[0].score).toBeCloseTo(1, 4);
    });
    // Every good query was embedded exactly once; the broken one never reached a batch.
    const after = await batchMetric();
    expect(after.sum - before.sum).toBe(8);
    expect(after.count - before.count).toBeLessThanOrEqual(8);
  });
});
