import type { Response } from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * Every foundation route x {no key, unknown key, wrong role, right role}. Public routes must
 * answer without a key.
 */
describe('auth matrix', () => {
  let t: TestApp;
  let searchKey: string;
  let securityKey: string;

  beforeAll(async () => {
    t = await createTestApp();
    searchKey = await t.keyFor('search');
    securityKey = await t.keyFor('security');
  });
  afterAll(() => t?.close());

  const adminRoutes: { name: string; send: (key?: string) => Promise<Response>; ok: number }[] = [
    {
      name: 'POST /v1/api-keys',
      send: (key) => {
        const req = t.http.post('/v1/api-keys').send({ name: 'matrix', role: 'search' });
        return key ? req.set('x-api-key', key) : req;
      },
      ok: 201,
    },
    {
      name: 'GET /v1/api-keys',
      send: (key) => {
        const req = t.http.get('/v1/api-keys');
        return key ? req.set('x-api-key', key) : req;
      },
      ok: 200,
    },
    {
      name: 'DELETE /v1/api-keys/:id',
      send: async (key) => {
        // A key of its own to delete, so each call can succeed.
        const target = await t.http
          .post('/v1/api-keys')
          .set('x-api-key', t.adminKey)
          .send({ name: 'doomed', role: 'search' });
        const req = t.http.delete(`/v1/api-keys/${target.body.id}`);
        return key ? req.set('x-api-key', key) : req;
      },
      ok: 204,
    },
  ];

  describe.each(adminRoutes.map((r) => [r.name, r] as const))('%s (admin)', (_name, route) => {
    it('401 without a key, with a message', async () => {
      const res = await route.send();
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringContaining('x-api-key'),
      });
    });

    it('401 with an unknown key', async () => {
      const res = await route.send('rir_not-a-real-key');
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('Invalid API key');
    });

    it('403 for search and security keys', async () => {
      for (const key of [searchKey, securityKey]) {
        const res = await route.send(key);
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
        expect(res.body.message).toMatch(/needs a key with role admin/);
      }
    });

    it(`${route.ok} for the admin key`, async () => {
      const res = await route.send(t.adminKey);
      expect(res.status).toBe(route.ok);
    });
  });

  it.each(['/health/live', '/health/ready', '/metrics', '/docs-json'])(
    '%s is public',
    async (path) => {
      const res = await t.http.get(path);
      // /health/ready may be 503 while a feature (model, index) is not ready: never 401.
      expect(path === '/health/ready' ? [200, 503] : [200]).toContain(res.status);
    },
  );

  it('a created key works at once, and a revoked key stops working', async () => {
    const created = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', t.adminKey)
      .send({ name: 'ops', role: 'admin' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'ops',
      role: 'admin',
      key: expect.stringMatching(/^rir_[\w-]{43}$/),
    });
    expect((await t.http.get('/v1/api-keys').set('x-api-key', created.body.key)).status).toBe(200);

    const listed = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey);
    const entry = listed.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({
      name: 'ops',
      role: 'admin',
      keyPrefix: created.body.key.slice(0, 10),
    });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

    const revoked = await t.http
      .delete(`/v1/api-keys/${created.body.id}`)
      .set('x-api-key', t.adminKey);
    expect(revoked.status).toBe(204);
    const after = await t.http.get('/v1/api-keys').set('x-api-key', created.body.key);
    expect(after.status).toBe(401);
  });

  it('DELETE answers 404 for an unknown id and 400 for a malformed one', async () => {
    const unknown = await t.http
      .delete('/v1/api-keys/00000000-0000-4000-8000-000000000000')
      .set('x-api-key', t.adminKey);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/not found/);
    const malformed = await t.http.delete('/v1/api-keys/abc').set('x-api-key', t.adminKey);
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/uuid/);
  });

  it('unknown routes are 404 with a JSON body, even without a key', async () => {
    const res = await t.http.get('/v1/no-such-thing');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
