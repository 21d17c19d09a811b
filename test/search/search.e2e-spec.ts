import { randomUUID } from 'crypto';
import { ModelsRepository } from '../../src/modules/models/models.repository';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from './fixtures';

interface Hit {
  id: string;
  label: string | null;
  score: number;
  distance: number;
  metadata: Record<string, unknown>;
}

describe('search (e2e)', () => {
  let t: TestApp;
  let searchKey: string;
  const ids: string[] = [];
  const images: Buffer[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    searchKey = await t.keyFor('search');
    await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    await writeTinyModel(t.config.dataDir, 'tiny-b', 2, 24);
    await deployAndWait(t, 'tiny-a');
    for (let i = 0; i < 40; i++) images.push(await tinyPng(100 + i));
    for (const [label, batch] of [
      ['even', images.filter((_, i) => i % 2 === 0)],
      ['odd', images.filter((_, i) => i % 2 === 1)],
    ] as const) {
      let req = t.http
        .post('/v1/gallery/images')
        .set('x-api-key', t.adminKey)
        .field('label', label);
      for (const image of batch) req = req.attach('files', image, 'x.png');
      const res = await req.field('metadata', JSON.stringify({ group: label }));
      expect(res.status).toBe(201);
      ids.push(...res.body.items.map((item: { id: string }) => item.id));
    }
  });
  afterAll(() => t?.close());

  const byUpload = (image: Buffer, fields: Record<string, string> = {}) => {
    let req = t.http.post('/v1/search').set('x-api-key', searchKey).attach('file', image, 'q.png');
    for (const [name, value] of Object.entries(fields)) req = req.field(name, value);
    return req;
  };

  it('finds an uploaded gallery image first, with score 1, and says which model answered', async () => {
    const res = await byUpload(images[0], { k: '5' });
    expect(res.status).toBe(200);
    expect(res.body.modelId).toBe('tiny-a');
    expect(res.body.tookMs).toBeGreaterThanOrEqual(0);
    const results: Hit[] = res.body.results;
    expect(results).toHaveLength(5);
    expect(results[0]).toMatchObject({ label: 'even', metadata: { group: 'even' } });
    expect(results[0].score).toBeCloseTo(1, 4);
    for (const hit of results) expect(hit.distance).toBeCloseTo(1 - hit.score, 5);
    for (let i = 1; i < results.length; i++)
      expect(results[i].score).toBeLessThanOrEqual(results[i - 1].score);
  });

  it('searches by id, leaving the item itself out', async () => {
    const res = await t.http.get(`/v1/search/similar/${ids[3]}?k=7`).set('x-api-key', searchKey);
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(7);
    expect(res.body.results.map((h: Hit) => h.id)).not.toContain(ids[3]);
  });

  it('filters by label and still returns k results', async () => {
    const res = await byUpload(images[1], { k: '10', label: 'even' });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(10);
    for (const hit of res.body.results) expect(hit.label).toBe('even');
  });

  it('drops results under minScore', async () => {
    const all = await byUpload(images[2], { k: '40' });
    const threshold = all.body.results[5].score;
    const res = await byUpload(images[2], { k: '40', minScore: String(threshold) });
    expect(res.body.results.length).toBeGreaterThanOrEqual(1);
    for (const hit of res.body.results) expect(hit.score).toBeGreaterThanOrEqual(threshold);
    expect(res.body.results.length).toBeLessThan(40);
  });

  it('needs a key; a search key may search', async () => {
    expect((await t.http.get(`/v1/search/similar/${ids[0]}`)).status).toBe(401);
    expect(
      (await t.http.get(`/v1/search/similar/${ids[0]}`).set('x-api-key', searchKey)).status,
    ).toBe(200);
  });

  describe('refuses bad queries with a 4xx and a message', () => {
    it.each([
      ['k=0', { k: '0' }, /k must not be less than 1/],
      ['k=100000', { k: '100000' }, /k must not be greater than 1000/],
      ['ef < k', { k: '20', ef: '10' }, /ef must be at least k \(got ef=10, k=20\)/],
      ['an unknown field', { colour: 'red' }, /property colour should not exist/],
    ])('%s (upload and by id)', async (_name, fields, message) => {
      const upload = await byUpload(images[0], fields);
      expect(upload.status).toBe(400);
      expect(upload.body.message).toMatch(message);
      const query = new URLSearchParams(fields).toString();
      const byId = await t.http
        .get(`/v1/search/similar/${ids[0]}?${query}`)
        .set('x-api-key', searchKey);
      expect(byId.status).toBe(400);
      expect(byId.body.message).toMatch(message);
    });

    it('an unknown id: 404; a malformed id: 400', async () => {
      const unknown = await t.http
        .get(`/v1/search/similar/${randomUUID()}`)
        .set('x-api-key', searchKey);
      expect(unknown.status).toBe(404);
      expect(unknown.body.message).toMatch(/No gallery item with id/);
      expect(
        (await t.http.get('/v1/search/similar/not-a-uuid').set('x-api-key', searchKey)).status,
      ).toBe(400);
    });

    it('a query that is not an image, or none at all', async () => {
      const text = await byUpload(Buffer.from('plain text'));
      expect(text.status).toBe(415);
      expect(text.body.message).toMatch(/not a supported image/);
      const none = await t.http.post('/v1/search').set('x-api-key', searchKey).field('k', '3');
      expect(none.status).toBe(400);
      expect(none.body.message).toMatch(/No image/);
    });

    it('deploying an unknown model: 404', async () => {
      const res = await t.http.post('/v1/models/no-such-model/deploy').set('x-api-key', t.adminKey);
      expect(res.status).toBe(404);
    });
  });

  it('deploys another model while searches run: no search fails, and afterwards the new model answers', async () => {
    const statuses: number[] = [];
    const models = new Set<string>();
    let stop = false;
    const load = (async () => {
      let n = 0;
      while (!stop) {
        const res =
          n++ % 2 === 0
            ? await byUpload(images[n % images.length], { k: '5' })
            : await t.http
                .get(`/v1/search/similar/${ids[n % ids.length]}?k=5`)
                .set('x-api-key', searchKey);
        statuses.push(res.status);
        if (res.status === 200) {
          models.add(res.body.modelId);
          expect(res.body.results).toHaveLength(5);
        }
      }
    })();
    await deployAndWait(t, 'tiny-b');
    // Keep searching across the swap for a little while.
    const after = statuses.length;
    while (statuses.length < after + 10) await new Promise((resolve) => setTimeout(resolve, 20));
    stop = true;
    await load;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(models).toEqual(new Set(['tiny-a', 'tiny-b']));

    const res = await byUpload(images[4], { k: '3' });
    expect(res.body.modelId).toBe('tiny-b');
    expect(res.body.results[0].id).toBe(ids[2]);
    expect(res.body.results[0].score).toBeCloseTo(1, 4);

    const models2 = await t.http.get('/v1/models').set('x-api-key', t.adminKey);
    const byId = new Map(models2.body.items.map((m: { id: string }) => [m.id, m]));
    expect(byId.get('tiny-b')).toMatchObject({
      status: 'deployed',
      active: true,
      deployProgress: { embedded: 40, total: 40 },
    });
    expect(byId.get('tiny-a')).toMatchObject({ status: 'retired', active: false });

    const ready = await t.http.get('/health/ready');
    expect(JSON.stringify(ready.body)).toContain('tiny-b');
  });
  it("answers a deploy's 202 only once GET /v1/models says deploying, so a client polling right after it never sees the old state", async () => {
    // Storing the status is made slow: before the fix the 202 went out first and the model still
    // read as retired (the web console then stopped watching and showed the old model for good).
    const models = t.app.get(ModelsRepository);
    const setStatus = models.setStatus.bind(models);
    const slow = jest.spyOn(models, 'setStatus').mockImplementation(async (id, status, error) => {
      if (status === 'deploying') await new Promise((resolve) => setTimeout(resolve, 300));
      return setStatus(id, status, error);
    });
    try {
      const serving = (await t.http.get('/health/ready')).body;
      const other = JSON.stringify(serving).includes('tiny-b') ? 'tiny-a' : 'tiny-b';
      const accepted = await t.http.post(`/v1/models/${other}/deploy`).set('x-api-key', t.adminKey);
      expect([accepted.status, accepted.body.message]).toEqual([202, undefined]);
      const now = await t.http.get(`/v1/models/${other}`).set('x-api-key', t.adminKey);
      expect(['deploying', 'deployed']).toContain(now.body.status);
      await deployAndWait(t, other);
    } finally {
      slow.mockRestore();
    }
  });
});
