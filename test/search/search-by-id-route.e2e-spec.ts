/**
 * The direct route for search by id (src/modules/search/search-by-id.route.ts) against Nest's own
 * router: two apps with the same gallery, one of them with RIR_DIRECT_ROUTES=0, answer the same
 * requests with the same statuses, bodies and headers, count them the same in /metrics, and reach
 * the rate limit on the same request.
 */
import { randomUUID } from 'crypto';
import type { Response } from 'supertest';
import type { ApplicationConfig } from '@nestjs/core';
import { AllExceptionsFilter } from '../../src/common';
import { DIRECT_ROUTES_VARIABLE } from '../../src/main';
import { GLOBAL_GUARDS } from '../../src/modules/auth/auth.module';
import { servesSearchByIdDirectly } from '../../src/modules/search/search-by-id.route';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from './fixtures';

const RATE_LIMIT = 40;

interface Side {
  t: TestApp;
  keys: Record<'search' | 'security' | 'admin', string>;
  /** Gallery ids in upload order; answers are compared with ids replaced by their position. */
  ids: string[];
}

async function side(direct: boolean, images: Buffer[]): Promise<Side> {
  const t = await createTestApp({
    env: {
      RATE_LIMIT_MAX: String(RATE_LIMIT),
      RATE_LIMIT_TTL_MS: '600000',
      ...(direct ? {} : { [DIRECT_ROUTES_VARIABLE]: '0' }),
    },
  });
  await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
  await deployAndWait(t, 'tiny-a');
  let upload = t.http
    .post('/v1/gallery/images')
    .set('x-api-key', t.adminKey)
    .field('label', 'odd')
    .field('metadata', JSON.stringify({ group: 'g', n: 1 }));
  for (const image of images) upload = upload.attach('files', image, 'x.png');
  const res = await upload;
  if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
  return {
    t,
    keys: {
      search: await t.keyFor('search'),
      security: await t.keyFor('security'),
      admin: t.adminKey,
    },
    ids: res.body.items.map((item: { id: string }) => item.id),
  };
}

/** Status, body and headers, with what differs between two apps by nature made comparable. */
function comparable(res: Response, s: Side) {
  const position = (text: string) =>
    s.ids.reduce(
      (out, id, i) => out.split(id).join(`<item ${i}>`).split(id.toUpperCase()).join(`<ITEM ${i}>`),
      text,
    );
  const body = JSON.parse(position(JSON.stringify(res.body ?? null))) as Record<string, unknown>;
  if (typeof body?.tookMs === 'number') body.tookMs = '<time>';
  // Per-request values: present on both sides, compared by name only.
  const headers: Record<string, unknown> = { ...res.headers };
  for (const name of ['date', 'x-request-id', 'content-length']) {
    expect(headers[name]).toBeDefined();
    headers[name] = '<present>';
  }
  // Seconds until the rate-limit window ends: each app's window began when its first request came.
  for (const name of ['x-ratelimit-reset', 'retry-after']) {
    if (headers[name] === undefined) continue;
    expect(headers[name]).toMatch(/^\d+$/);
    headers[name] = '<seconds>';
  }
  return { status: res.status, body, headers };
}

describe('search by id: the direct route answers as Nest does', () => {
  let direct: Side;
  let viaNest: Side;

  beforeAll(async () => {
    const images: Buffer[] = [];
    for (let i = 0; i < 12; i++) images.push(await tinyPng(300 + i));
    [direct, viaNest] = await Promise.all([side(true, images), side(false, images)]);
  });
  afterAll(async () => {
    await direct?.t.close();
    await viaNest?.t.close();
  });

  it('serves the route directly only where enabled', () => {
    const served = (s: Side) => servesSearchByIdDirectly(s.t.app.getHttpAdapter().getInstance());
    expect(served(direct)).toBe(true);
    expect(served(viaNest)).toBe(false);
  });

  it("applies exactly the app's global enhancers (a new global guard, pipe, filter or interceptor must be added to the direct route too)", () => {
    const app = direct.t.app;
    // NestApplication keeps them in its ApplicationConfig (not public API; read here only).
    const config = (app as unknown as { config: ApplicationConfig }).config;
    expect(config.getGlobalGuards()).toEqual(GLOBAL_GUARDS.map((guard) => app.get(guard)));
    expect(config.getGlobalGuards().every((guard, i) => guard === app.get(GLOBAL_GUARDS[i]))).toBe(
      true,
    );
    expect(config.getGlobalRequestGuards()).toEqual([]);
    expect(config.getGlobalPipes().map((pipe) => pipe.constructor.name)).toEqual([
      'AppValidationPipe',
    ]);
    expect(config.getGlobalRequestPipes()).toEqual([]);
    expect(config.getGlobalFilters().map((filter) => filter.constructor)).toEqual([
      AllExceptionsFilter,
    ]);
    expect(config.getGlobalRequestFilters()).toEqual([]);
    expect(config.getGlobalInterceptors()).toEqual([]);
    expect(config.getGlobalRequestInterceptors()).toEqual([]);
  });

  it('gives the same answers (results, validation errors, auth errors, unknown ids, odd paths)', async () => {
    const unknown = randomUUID();
    const cases: [string, (s: Side) => string, keyof Side['keys'] | 'bad' | null][] = [
      ['plain', (s) => `/v1/search/similar/${s.ids[3]}`, 'search'],
      ['k, ef, minScore', (s) => `/v1/search/similar/${s.ids[0]}?k=3&ef=16&minScore=-1`, 'search'],
      ['label filter, admin key', (s) => `/v1/search/similar/${s.ids[5]}?label=odd`, 'admin'],
      ['trailing slash, upper case', (s) => `/V1/Search/Similar/${s.ids[1]}/`, 'search'],
      ['upper-case id', (s) => `/v1/search/similar/${s.ids[2].toUpperCase()}`, 'search'],
      ['no key', (s) => `/v1/search/similar/${s.ids[3]}`, null],
      ['unknown key', (s) => `/v1/search/similar/${s.ids[3]}`, 'bad'],
      ['key without the search role', (s) => `/v1/search/similar/${s.ids[3]}`, 'security'],
      ['malformed id', () => '/v1/search/similar/not-a-uuid', 'search'],
      ['unknown id', () => `/v1/search/similar/${unknown}`, 'search'],
      ['empty id', () => '/v1/search/similar/', 'search'],
      ['k=0', (s) => `/v1/search/similar/${s.ids[3]}?k=0`, 'search'],
      ['k=100000', (s) => `/v1/search/similar/${s.ids[3]}?k=100000`, 'search'],
      ['ef < k', (s) => `/v1/search/similar/${s.ids[3]}?k=20&ef=10`, 'search'],
      ['k=abc', (s) => `/v1/search/similar/${s.ids[3]}?k=abc`, 'search'],
      ['k twice', (s) => `/v1/search/similar/${s.ids[3]}?k=1&k=2`, 'search'],
      ['unknown field', (s) => `/v1/search/similar/${s.ids[3]}?colour=red`, 'search'],
    ];
    for (const [name, url, key] of cases) {
      const [a, b] = await Promise.all(
        [direct, viaNest].map((s) => {
          const req = s.t.http.get(url(s));
          if (key === 'bad') return req.set('x-api-key', 'rir_not_a_key');
          return key ? req.set('x-api-key', s.keys[key]) : req;
        }),
      );
      expect({ name, ...comparable(a, direct) }).toEqual({ name, ...comparable(b, viaNest) });
      if (name === 'plain') {
        expect(a.status).toBe(200);
        expect(a.body.results).toHaveLength(10);
        expect(a.headers).toMatchObject({
          'x-ratelimit-limit': String(RATE_LIMIT),
          'x-content-type-options': 'nosniff',
        });
        expect(a.headers['x-request-id']).toMatch(/^[\w.:-]+$/);
      }
    }
  });

  it('counts the requests in /metrics the same way', async () => {
    const lines = async (s: Side) =>
      (await s.t.http.get('/metrics')).text
        .split('\n')
        .filter((line) => line.startsWith('http_requests_total') && line.includes('/v1/search/'));
    const counted = await lines(direct);
    expect(counted.some((line) => line.includes('status="200"'))).toBe(true);
    expect(counted).toEqual(await lines(viaNest));
  });

  it('reaches the rate limit on the same request, with the same 429', async () => {
    const answers: [Response, Response][] = [];
    for (let i = 0; i < RATE_LIMIT + 1; i++) {
      const pair = await Promise.all(
        [direct, viaNest].map((s) =>
          s.t.http
            .get(`/v1/search/similar/${s.ids[i % s.ids.length]}`)
            .set('x-api-key', s.keys.search),
        ),
      );
      answers.push(pair as [Response, Response]);
      if (pair[0].status === 429) break;
    }
    const [last] = answers[answers.length - 1];
    expect(last.status).toBe(429);
    expect(last.headers['retry-after']).toBeDefined();
    for (const [x, y] of answers) expect(comparable(x, direct)).toEqual(comparable(y, viaNest));
  });
});
