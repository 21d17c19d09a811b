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

  it('answers 429 with Retry-After past the limit, and skips health checks', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/Too Many Requests/i),
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await t.http.get('/health/live')).status).toBe(200);
  });
});
