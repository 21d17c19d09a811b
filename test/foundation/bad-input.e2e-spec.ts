import { DataSource } from 'typeorm';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** Bad requests get a 4xx with a message, never a 500, and never a stack trace. */
describe('bad input', () => {
  let t: TestApp;
  const post = (body: string | object, type = 'application/json') =>
    t.http.post('/v1/api-keys').set('x-api-key', t.adminKey).set('content-type', type).send(body);

  beforeAll(async () => {
    t = await createTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
  });
  afterAll(() => t?.close());

  function expectClientError(
    res: { status: number; body: Record<string, unknown>; text: string },
    status: number,
  ) {
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      statusCode: status,
      error: expect.any(String),
      message: expect.any(String),
    });
    expect((res.body.message as string).length).toBeGreaterThan(5);
    expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  }

  it('malformed JSON is a 400 naming the problem', async () => {
    const res = await post('{"name": "x", "role": ');
    expectClientError(res, 400);
    expect(res.body.message).toMatch(/^Malformed JSON/);
  });

  it('unknown fields are rejected', async () => {
    const res = await post({ name: 'x', role: 'search', isAdmin: true });
    expectClientError(res, 400);
    expect(res.body.message).toBe('property isAdmin should not exist');
  });

  it('wrong types and values are rejected with the field named', async () => {
    const wrongRole = await post({ name: 'x', role: 'root' });
    expectClientError(wrongRole, 400);
    expect(wrongRole.body.message).toMatch(
      /role must be one of the following values: search, security, admin/,
    );

    const missing = await post({});
    expectClientError(missing, 400);
    expect(missing.body.errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^name /), expect.stringMatching(/^role /)]),
    );

    const blank = await post({ name: '   ', role: 'search' });
    expectClientError(blank, 400);
    expect(blank.body.message).toMatch(/name must not be blank/);

    const notJsonObject = await post('[1,2,3]');
    expect(notJsonObject.status).toBe(400);
  });

  it('an oversized body is a 413 naming the limit', async () => {
    const res = await post({ name: 'x'.repeat(4096), role: 'search' });
    expectClientError(res, 413);
    expect(res.body.message).toBe('Request body is larger than the limit of 2048 bytes');
  });

  it('an oversized body is refused before authentication is even needed', async () => {
    const res = await t.http
      .post('/v1/api-keys')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ pad: 'y'.repeat(4096) }));
    expect(res.status).toBe(413);
  });

  it('a body of another content type does not reach the handler as valid input', async () => {
    const res = await post('name=x&role=search', 'text/plain');
    expectClientError(res, 400);
  });

  it('echoes a caller x-request-id and makes one otherwise', async () => {
    const given = await t.http.get('/health/live').set('x-request-id', 'trace-123');
    expect(given.headers['x-request-id']).toBe('trace-123');
    const made = await t.http.get('/health/live');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await t.http.get('/health/live').set('x-request-id', 'a b<script>');
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends security headers', async () => {
    const res = await t.http.get('/health/live');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('routes match with a trailing slash and in any case, as they did on Express', async () => {
    for (const path of ['/health/live/', '/Health/LIVE']) {
      const res = await t.http.get(path);
      expect(res.status).toBe(200);
    }
  });

  // Last: it takes the database away from this app.
  it('an unexpected failure is a bare 500 (nothing leaked) and readiness reports the database down', async () => {
    await t.app.get(DataSource).destroy();
    const res = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.message).toMatch(/^Not ready: .*database/);
    expect(ready.body.details.database.status).toBe('down');
  });
});
