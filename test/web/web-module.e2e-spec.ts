import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { ATTACK_NAMES } from '../../src/ml/attacks/definitions';
import { BACKBONES } from '../../src/ml/models';
import { apiMeta } from '../../src/modules/web/meta.controller';
import { createTestApp, TestApp } from '../utils/create-test-app';

describe('web console module (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('serves the console page at / without a key, with its own content security policy', async () => {
    const res = await t.http.get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).toContain('<script type="module" src="/console/app.js">');
    expect(res.headers['content-security-policy']).toContain("img-src 'self' blob: data:");
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('serves the scripts and styles, and answers 304 to a matching etag', async () => {
    const js = await t.http.get('/console/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    expect(js.text).toContain('PAGES');
    const again = await t.http.get('/console/app.js').set('if-none-match', js.headers.etag);
    expect(again.status).toBe(304);
    const css = await t.http.get('/console/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toContain('text/css');
  });

  it('refuses names outside the console folder and unknown files with 404', async () => {
    for (const name of [
      '..%2Fweb.module.ts',
      'web.module.ts',
      '.hidden.js',
      'missing.js',
      'index.html',
    ]) {
      const res = await t.http.get(`/console/${name}`);
      expect(res.status).toBe(404);
      expect(res.body.message).toMatch(/No console file|Cannot GET/);
    }
  });

  it('GET /v1/auth/me names the calling key and its role, and needs a key', async () => {
    const searchKey = await t.keyFor('search');
    const me = await t.http.get('/v1/auth/me').set('x-api-key', searchKey);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ id: expect.any(String), name: 'test-search', role: 'search' });
    const admin = await t.http.get('/v1/auth/me').set('x-api-key', t.adminKey);
    expect(admin.body.role).toBe('admin');
    const none = await t.http.get('/v1/auth/me');
    expect(none.status).toBe(401);
    const bad = await t.http.get('/v1/auth/me').set('x-api-key', 'nope');
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe('Invalid API key');
  });

  it('GET /v1/meta gives the names and figure rules from where they are defined, to any key', async () => {
    const res = await t.http.get('/v1/meta').set('x-api-key', await t.keyFor('search'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(apiMeta())));
    expect(res.body.backbones).toEqual([...BACKBONES]);
    expect(res.body.attacks).toEqual([...ATTACK_NAMES]);
    expect(res.body.figures['ES:R']).toEqual({
      moreRobust: 'higher',
      unit: 'R@1 %',
      percent: true,
      digits: 1,
    });
    expect(res.body.figures.TMA).toMatchObject({ moreRobust: 'lower', percent: false, digits: 3 });
    expect((await t.http.get('/v1/meta')).status).toBe(401);
  });

  it('the console keeps no copy of what /v1/meta gives (names, figure rules) nor a budget parser', () => {
    const dir = path.join(__dirname, '../../src/modules/web/public');
    const scripts = readdirSync(dir)
      .filter((name) => name.endsWith('.js'))
      .map((name) => readFileSync(path.join(dir, name), 'utf8'))
      .join('\n');
    for (const name of ['mobilenetv2', 'multi-similarity', 'hm-ics', 'QA-', 'mean rank %'])
      expect(scripts).not.toContain(`'${name}'`);
    expect(scripts).not.toMatch(/parseEps|\/255\b.*split\('\/'\)/);
  });
});
