import request from 'supertest';
import { Cluster, ServeProcess, startCluster } from '../jobs/processes';
import { tinyPng, writeTinyModel } from './fixtures';

const serverUrl = process.env.DATABASE_URL;
const describeWithPostgres = serverUrl ? describe : describe.skip;
if (!serverUrl) {
  console.warn(
    'test/search/replica-sync: skipped: set DATABASE_URL to a PostgreSQL server to run it',
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two `rir serve --role api` replicas on one PostgreSQL, each with its own HNSW index (bundled
 * default model): what one ingests or deletes reaches the other's index and catalog within a few
 * seconds (the replica sync polls every second).
 */
describeWithPostgres('replica index sync on a shared PostgreSQL', () => {
  let cluster: Cluster;
  let a: ServeProcess;
  let b: ServeProcess;
  let searchKey: string;

  beforeAll(async () => {
    cluster = await startCluster(serverUrl!, {});
    // The first replica runs the migrations and deploys the bundled model.
    a = await cluster.startApi();
    b = await cluster.startApi();
    for (const replica of [a, b]) {
      for (let i = 0; i < 240; i++) {
        if ((await request(replica.url).get('/health/ready')).status === 200) break;
        await sleep(250);
      }
    }
    const created = await request(a.url)
      .post('/v1/api-keys')
      .set('x-api-key', cluster.adminKey)
      .send({ name: 'sync', role: 'search' });
    searchKey = created.body.key;
  }, 300_000);
  afterAll(async () => {
    // The replicas' logs, when asked for (what a failed look said).
    if (process.env.TEST_SHOW_OUTPUT) console.log(a?.output(), b?.output());
    await cluster?.close();
  });

  const similar = (replica: ServeProcess, id: string) =>
    request(replica.url).get(`/v1/search/similar/${id}?k=3`).set('x-api-key', searchKey);

  /** Polls until `check` holds (up to 20 s); returns whether it did. */
  const eventually = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 80; i++) {
      if (await check()) return true;
      await sleep(250);
    }
    return false;
  };

  it('images ingested through one replica are found by id and by content through the other', async () => {
    let upload = request(a.url)
      .post('/v1/gallery/images')
      .set('x-api-key', cluster.adminKey)
      .field('label', 'via-a')
      .field('metadata', JSON.stringify({ via: 'a' }));
    const images = await Promise.all([1, 2, 3, 4].map((seed) => tinyPng(seed, 28)));
    for (const image of images) upload = upload.attach('files', image, 'x.png');
    const res = await upload;
    expect(res.status).toBe(201);
    const ids: string[] = res.body.items.map((item: { id: string }) => item.id);

    expect(await eventually(async () => (await similar(b, ids[0])).status === 200)).toBe(true);
    const hits = (await similar(b, ids[0])).body.results;
    expect(hits).toHaveLength(3);
    for (const hit of hits) {
      expect(ids).toContain(hit.id);
      expect(hit).toMatchObject({ label: 'via-a', metadata: { via: 'a' } });
    }
    const byContent = await request(b.url)
      .post('/v1/search')
      .set('x-api-key', searchKey)
      .attach('file', images[1], 'q.png');
    expect(byContent.status).toBe(200);
    expect(byContent.body.results[0].id).toBe(ids[1]);
    expect(byContent.body.results[0].score).toBeCloseTo(1, 4);
  });

  it('an image deleted through one replica leaves the other', async () => {
    const res = await request(b.url)
      .post('/v1/gallery/images')
      .set('x-api-key', cluster.adminKey)
      .attach('files', await tinyPng(50, 28), 'x.png');
    expect(res.status).toBe(201);
    const id: string = res.body.items[0].id;
    expect(await eventually(async () => (await similar(a, id)).status === 200)).toBe(true);

    const deleted = await request(b.url)
      .delete(`/v1/gallery/images/${id}`)
      .set('x-api-key', cluster.adminKey);
    expect(deleted.status).toBe(204);
    expect(await eventually(async () => (await similar(a, id)).status === 404)).toBe(true);
    // Nor is it anyone's neighbour any more.
    const listed = await request(a.url)
      .get('/v1/gallery/images?limit=10')
      .set('x-api-key', cluster.adminKey);
    const other: string = listed.body.items[0].id;
    const hits = await request(a.url)
      .get(`/v1/search/similar/${other}?k=10`)
      .set('x-api-key', searchKey);
    expect(hits.status).toBe(200);
    expect(hits.body.results.map((h: { id: string }) => h.id)).not.toContain(id);
  });
  it('a model deployed through one replica is served by the other, which embeds what it ingested meanwhile', async () => {
    const upload = async (replica: ServeProcess, seed: number) => {
      const res = await request(replica.url)
        .post('/v1/gallery/images')
        .set('x-api-key', cluster.adminKey)
        .attach('files', await tinyPng(seed, 28), 'x.png');
      expect(res.status).toBe(201);
      return res.body.items[0].id as string;
    };
    const before = await upload(b, 70);
    // The shared DATA_DIR holds model versions; the registry picks the new one up on deploy.
    await writeTinyModel(cluster.dataDir, 'replica-tiny', 7);
    const accepted = await request(a.url)
      .post('/v1/models/replica-tiny/deploy')
      .set('x-api-key', cluster.adminKey);
    expect(accepted.status).toBe(202);
    const activeOnA = async () =>
      (await request(a.url).get('/v1/models/replica-tiny').set('x-api-key', cluster.adminKey)).body
        .active === true;
    expect(await eventually(activeOnA)).toBe(true);
    // Uploaded through B at once: most likely still embedded with the old model there.
    const during = await upload(b, 71);

    const servedBy = async (replica: ServeProcess, id: string) => {
      const res = await similar(replica, id);
      return res.status === 200 && res.body.modelId === 'replica-tiny';
    };
    expect(await eventually(() => servedBy(b, before))).toBe(true);
    for (const replica of [a, b]) {
      expect(await eventually(() => servedBy(replica, during))).toBe(true);
    }
    // Both replicas index every gallery item under the new model.
    const total = (
      await request(a.url).get('/v1/gallery/images?limit=1').set('x-api-key', cluster.adminKey)
    ).body.total as number;
    for (const replica of [a, b]) {
      const vectors = async () => {
        const ready = await request(replica.url).get('/health/ready');
        return ready.body.details?.index?.vectors;
      };
      expect(await eventually(async () => (await vectors()) === total)).toBe(true);
    }
  });
});
