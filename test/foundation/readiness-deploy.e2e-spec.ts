import { DeployService } from '../../src/modules/models/deploy.service';
import { EmbeddingsRepository } from '../../src/modules/search/embeddings.repository';
import { deployAndWait, tinyPng, writeTinyModel } from '../search/fixtures';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * README, "First steps": a redeploy keeps the replica ready (200) and serving searches with the
 * previous model until the new one is swapped in; /health/ready names the model being deployed.
 */
describe('/health/ready during a redeploy', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    await writeTinyModel(t.config.dataDir, 'tiny-b', 2);
    await deployAndWait(t, 'tiny-a');
    await t.http
      .post('/v1/gallery/images')
      .set('x-api-key', t.adminKey)
      .attach('files', await tinyPng(1), 'a.png')
      .attach('files', await tinyPng(2), 'b.png')
      .expect(201);
  });
  afterAll(() => t?.close());

  it('stays 200 with the serving model and the one being deployed, and searches keep working', async () => {
    // The deploy of tiny-b waits inside its re-embedding until released.
    const embeddings = t.app.get(EmbeddingsRepository);
    const original = embeddings.itemsWithoutEmbedding.bind(embeddings);
    let release = () => undefined as void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let reached = () => undefined as void;
    const waiting = new Promise<void>((resolve) => (reached = resolve));
    const held = jest
      .spyOn(embeddings, 'itemsWithoutEmbedding')
      .mockImplementation(async (modelId, limit) => {
        if (modelId === 'tiny-b') {
          reached();
          await released;
        }
        return original(modelId, limit);
      });
    try {
      await t.http.post('/v1/models/tiny-b/deploy').set('x-api-key', t.adminKey).expect(202);
      await waiting;

      const ready = await t.http.get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.details.model).toEqual({
        status: 'up',
        modelId: 'tiny-a',
        deploying: 'tiny-b',
      });
      const search = await t.http
        .post('/v1/search')
        .set('x-api-key', await t.keyFor('search'))
        .attach('file', await tinyPng(1), 'q.png');
      expect([search.status, search.body.modelId]).toEqual([200, 'tiny-a']);
    } finally {
      release();
      held.mockRestore();
    }
    await deployAndWait(t, 'tiny-b');
    // Swapped in; the deploy then stores its final progress and saves the index.
    await t.app.get(DeployService).idle();
    const after = await t.http.get('/health/ready');
    expect(after.status).toBe(200);
    expect(after.body.details.model).toEqual({ status: 'up', modelId: 'tiny-b', deploying: null });
  });
});
