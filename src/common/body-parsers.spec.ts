import { HttpException } from '@nestjs/common';
import fastify, { FastifyInstance } from 'fastify';
import { Readable } from 'stream';
import { registerBodyParsers } from './body-parsers';

describe('registerBodyParsers (Express body-parser behaviour on fastify)', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = fastify();
    registerBodyParsers(app, 64);
    app.setErrorHandler((error, _request, reply) => {
      const status = error instanceof HttpException ? error.getStatus() : 500;
      return reply.status(status).send({ message: (error as Error).message });
    });
    app.post('/', (request) => ({ body: request.body ?? null }));
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (payload: string | Readable, contentType: string) =>
    app.inject({ method: 'POST', url: '/', headers: { 'content-type': contentType }, payload });

  it('parses JSON objects and arrays, and forms', async () => {
    expect((await post('{"a":1}', 'application/json')).json()).toEqual({ body: { a: 1 } });
    expect((await post('[1,2]', 'application/json; charset=utf-8')).json()).toEqual({
      body: [1, 2],
    });
    expect((await post('a=1&b=x', 'application/x-www-form-urlencoded')).json()).toEqual({
      body: { a: '1', b: 'x' },
    });
  });

  it('an empty JSON body is {} (fastify alone answers 400)', async () => {
    expect((await post('', 'application/json')).json()).toEqual({ body: {} });
  });

  it('malformed JSON, or a JSON primitive, is a 400 naming the problem', async () => {
    for (const payload of ['{"a": ', '"text"', '42']) {
      const res = await post(payload, 'application/json');
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/^Malformed JSON in request body: /);
    }
  });

  it('a body over the limit is a 413 naming it, by content-length or as it streams', async () => {
    const declared = await post(`{"a":"${'x'.repeat(100)}"}`, 'application/json');
    expect(declared.statusCode).toBe(413);
    expect(declared.json().message).toBe('Request body is larger than the limit of 64 bytes');
    const streamed = await post(
      Readable.from([Buffer.from('{"a":"'), Buffer.alloc(100, 120), Buffer.from('"}')]),
      'application/json',
    );
    expect(streamed.statusCode).toBe(413);
    const other = await post('y'.repeat(100), 'text/plain');
    expect(other.statusCode).toBe(413);
  });

  it('a body of another type reaches the handler as no body (not a 415)', async () => {
    const res = await post('name=x', 'text/plain');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ body: null });
  });
});
