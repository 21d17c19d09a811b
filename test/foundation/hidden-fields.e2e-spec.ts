import { createTestApp, TestApp } from '../utils/create-test-app';
import { tinyPng } from '../search/fixtures';

/**
 * `__proto__`, `constructor` and other names of Object.prototype's members used to be dropped
 * silently by validation (class-transformer skips them), so a body carrying one passed where any
 * other unknown field gets 400. They are refused in every body and query, with the same message.
 */
describe('__proto__, constructor and the like in request bodies', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  /** POSTs a raw JSON text (an object literal would lose `__proto__` before it is sent). */
  const postJson = (url: string, text: string, key = t.adminKey) =>
    t.http.post(url).set('x-api-key', key).set('content-type', 'application/json').send(text);

  const expectRefused = (res: { status: number; body: Record<string, unknown> }, field: string) => {
    expect([res.status, res.body.message]).toEqual([400, `property ${field} should not exist`]);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  };

  it.each([
    ['__proto__', '{"name":"x","role":"search","__proto__":{"role":"admin"}}'],
    ['constructor', '{"name":"x","role":"search","constructor":{"prototype":{"isAdmin":true}}}'],
    ['prototype', '{"name":"x","role":"search","prototype":1}'],
    ['toString', '{"name":"x","role":"search","toString":"x"}'],
    // JSON escapes spell the same name.
    ['__proto__', '{"name":"x","role":"search","\\u005f_proto__":{}}'],
  ])('POST /v1/api-keys with %s: 400, and no key is made', async (field, text) => {
    expectRefused(await postJson('/v1/api-keys', text), field);
    const listed = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey).expect(200);
    expect((listed.body.items as { name: string }[]).map((k) => k.name)).toEqual(['ADMIN_API_KEY']);
  });

  it('a form body with __proto__: 400', async () => {
    const res = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', t.adminKey)
      .type('form')
      .send('name=x&role=search&__proto__=1');
    expectRefused(res, '__proto__');
  });

  it('other JSON routes: POST /v1/probes and /v1/training-jobs, nested fields named by their path', async () => {
    const security = await t.keyFor('security');
    expectRefused(await postJson('/v1/probes', '{"__proto__":{"x":1}}', security), '__proto__');
    expectRefused(await postJson('/v1/probes', '{"constructor":{}}', security), 'constructor');
    expectRefused(
      await postJson(
        '/v1/training-jobs',
        '{"dataset":"mnist","defense":"panum","defenseParams":{"eps":0.3,"__proto__":{"eps":9}}}',
      ),
      'defenseParams.__proto__',
    );
    expectRefused(
      await postJson('/v1/training-jobs', '{"dataset":"mnist","constructor":{"name":"x"}}'),
      'constructor',
    );
  });

  it('multipart fields and query strings too', async () => {
    const search = await t.keyFor('search');
    const image = await tinyPng(1);
    const upload = (field: string) =>
      t.http
        .post('/v1/search')
        .set('x-api-key', search)
        .field(field, '1')
        .attach('file', image, 'q.png');
    // @fastify/multipart refuses the names of Object.prototype's members itself, in its words.
    for (const field of ['__proto__', 'constructor']) {
      const res = await upload(field);
      expect([res.status, res.body.message]).toEqual([
        400,
        'prototype property is not allowed as field name',
      ]);
    }
    expectRefused(await upload('prototype'), 'prototype');
    const id = '00000000-0000-4000-8000-000000000000';
    for (const field of ['__proto__', 'constructor', 'prototype']) {
      const res = await t.http
        .get(`/v1/search/similar/${id}?k=3&${field}=1`)
        .set('x-api-key', search);
      expectRefused(res, field);
    }
  });

  it('plain names that merely contain them are ordinary unknown fields', async () => {
    const res = await postJson('/v1/api-keys', '{"name":"x","role":"search","my_constructor":1}');
    expectRefused(res, 'my_constructor');
  });
});
