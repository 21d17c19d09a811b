import type { IncomingMessage, ServerResponse } from 'http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The response headers `helmet(options)` sets, worked out once by helmet itself. Every header it
 * sets is the same for every request unless a CSP directive is a function (nonces), which is
 * refused here.
 */
export function helmetHeaders(options: HelmetOptions = {}): Record<string, string> {
  const csp = options.contentSecurityPolicy;
  const directives = typeof csp === 'object' ? Object.values(csp.directives ?? {}) : [];
  if (
    directives.some(
      (v) =>
        typeof v === 'function' || (Array.isArray(v) && v.some((x) => typeof x === 'function')),
    )
  ) {
    throw new Error('helmetHeaders: per-request (function) CSP directives are not supported');
  }
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)(
    {} as IncomingMessage,
    response as unknown as ServerResponse,
    (error?: unknown) => {
      failure = error;
    },
  );
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return headers;
}

/**
 * helmet's security headers on every response (404s and errors included), set from one object
 * built at start-up. @fastify/helmet builds a new helmet middleware (and re-parses the CSP) on
 * every request instead: ~5% of the server's CPU under load in the search-by-id profile.
 */
export function registerSecurityHeaders(fastify: FastifyInstance, options: HelmetOptions): void {
  const headers = helmetHeaders(options);
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
