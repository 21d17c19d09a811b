import express from 'express';
import fastify from 'fastify';
import helmet from 'helmet';
import request from 'supertest';
import { helmetHeaders, registerSecurityHeaders } from './security-headers';

const OPTIONS = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } };

/** The helmet headers of a response, by name. */
function securityHeadersOf(headers: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(helmetHeaders(OPTIONS));
  return Object.fromEntries(names.map((name) => [name, headers[name]]));
}

describe('security headers (helmet, computed once)', () => {
  it('are what helmet itself sets on an Express response', async () => {
    const app = express();
    app.use(helmet(OPTIONS));
    app.get('/', (_req, res) => {
      res.send('ok');
    });
    const expressRes = await request(app).get('/');
    const expected = securityHeadersOf(expressRes.headers);
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
    expect(helmetHeaders(OPTIONS)).toEqual(expected);
    expect(helmetHeaders(OPTIONS)['content-security-policy']).not.toContain(
      'upgrade-insecure-requests',
    );
  });

  it('are on every fastify response, unknown routes and errors included', async () => {
    const app = fastify();
    registerSecurityHeaders(app, OPTIONS);
    app.get('/fail', () => {
      throw new Error('boom');
    });
    await app.ready();
    try {
      for (const url of ['/nowhere', '/fail']) {
        const res = await app.inject({ url });
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(securityHeadersOf(res.headers)).toEqual(helmetHeaders(OPTIONS));
      }
    } finally {
      await app.close();
    }
  });

  it('refuses per-request CSP directives', () => {
    expect(() =>
      helmetHeaders({
        contentSecurityPolicy: { directives: { scriptSrc: [() => "'nonce-x'"] } },
      }),
    ).toThrow(/per-request/);
  });
});
