import { createTestApp, TestApp } from '../utils/create-test-app';

describe('ops endpoints', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ initTfjs: true });
  });
  afterAll(() => t?.close());

  it('GET /health/live', async () => {
    const res = await t.http.get('/health/live');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /health/ready reports the database, migrations and tfjs backend', async () => {
    const res = await t.http.get('/health/ready');
    // Features add their own checks (model, index); the foundation's must be up.
    expect(res.body.details).toMatchObject({
      database: { status: 'up' },
      migrations: { status: 'up', pending: false },
      tfjs: { status: 'up', backend: 'wasm', gpu: false },
    });
    const down = Object.entries(res.body.details as Record<string, { status: string }>)
      .filter(([, check]) => check.status !== 'up')
      .map(([name]) => name);
    if (down.length === 0) {
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ok');
    } else {
      expect(res.status).toBe(503);
      expect(res.body.message).toBe(`Not ready: ${down.join(', ')}`);
    }
  });

  it('GET /metrics counts requests by route pattern, method and status', async () => {
    await t.http.get('/v1/api-keys');
    await t.http
      .delete('/v1/api-keys/00000000-0000-4000-8000-000000000000')
      .set('x-api-key', t.adminKey);
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(res.text).toContain('# TYPE http_requests_total counter');
    expect(res.text).toMatch(
      /http_requests_total\{route="\/v1\/api-keys",method="GET",status="401"\} 1\n/,
    );
    // The pattern, not the raw path with the id:
    expect(res.text).toMatch(
      /http_requests_total\{route="\/v1\/api-keys\/:id",method="DELETE",status="404"\} 1\n/,
    );
    expect(res.text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(res.text).toMatch(
      /http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/api-keys",method="GET",status="401"\} 1/,
    );
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('nodejs_heap_size_used_bytes');
  });

  it('GET /docs-json documents the x-api-key scheme, public routes, and a summary per route', async () => {
    const res = await t.http.get('/docs-json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.components.securitySchemes['api-key']).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    expect(doc.security).toEqual([{ 'api-key': [] }]);
    expect(doc.paths['/v1/api-keys'].post.security).toBeUndefined();
    expect(doc.paths['/health/ready'].get.security).toEqual([]);
    expect(doc.paths['/metrics'].get.security).toEqual([]);
    const withoutSummary: string[] = [];
    for (const [path, item] of Object.entries(
      doc.paths as Record<string, Record<string, { summary?: string }>>,
    )) {
      for (const [method, op] of Object.entries(item))
        if (!op.summary) withoutSummary.push(`${method.toUpperCase()} ${path}`);
    }
    expect(withoutSummary).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('x-rir-public');
  });

  it('GET /docs-json names each role once, and bounds the search breadth ef', async () => {
    const doc = (await t.http.get('/docs-json').expect(200)).body;
    const text = JSON.stringify(doc);
    expect(text).not.toMatch(/\b(\w+) or \1\b/);
    expect(doc.paths['/v1/api-keys'].get.responses['403'].description).toBe('Needs role: admin');
    expect(doc.paths['/v1/search'].post.responses['403'].description).toBe(
      'Needs role: search or admin',
    );
    const parameters = doc.paths['/v1/search/similar/{id}'].get.parameters as {
      name: string;
      schema: object;
    }[];
    expect(parameters.find((p) => p.name === 'ef')?.schema).toMatchObject({
      minimum: 1,
      maximum: 10_000,
    });
    const upload =
      doc.paths['/v1/search'].post.requestBody.content['multipart/form-data'].schema.properties;
    expect(upload.ef).toMatchObject({ minimum: 1, maximum: 10_000 });
    expect(upload.k).toMatchObject({ minimum: 1, maximum: 1000 });
  });

  it('GET /docs serves the UI', async () => {
    const res = await t.http.get('/docs').redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});

describe('rate limiting', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_TTL_MS: '60000' } });
  });
  afterAll(() => t?.close());

  it('answers 429 with Retry-After and the wait in the message past the limit, and skips health checks', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `Too many requests, retry in ${retryAfter} s`,
    });
    for (const path of ['/health/live', '/health/ready', '/metrics', '/docs-json'])
      for (let i = 0; i < 4; i++) expect((await t.http.get(path)).status).toBe(200);
  });

  it('does not count requests refused before they reach a route (malformed JSON)', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await t.http
        .post('/v1/api-keys')
        .set('x-api-key', t.adminKey)
        .set('content-type', 'application/json')
        .send('{"name":');
      expect([res.status, res.body.message]).toEqual([
        400,
        expect.stringMatching(/^Malformed JSON/),
      ]);
    }
  });

  it('counts per route and client IP: another route still answers (README, "Rate limits")', async () => {
    const other = await t.http.post('/v1/api-keys').set('x-api-key', t.adminKey).send({});
    expect([other.status, other.body.message]).toEqual([400, expect.stringMatching(/^name /)]);
  });

  it('counts rejected requests too (400, 401)', async () => {
    // POST /v1/api-keys had one request (a 400) above; two more (a 401, a 400) fill its limit of 3.
    expect((await t.http.post('/v1/api-keys').send({})).status).toBe(401);
    expect((await t.http.post('/v1/api-keys').set('x-api-key', t.adminKey).send({})).status).toBe(
      400,
    );
    const limited = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', t.adminKey)
      .send({ name: 'x', role: 'search' });
    expect(limited.status).toBe(429);
    expect(limited.body.message).toBe(
      `Too many requests, retry in ${limited.headers['retry-after']} s`,
    );
  });
});
