import { BadRequestException, PayloadTooLargeException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { parse as parseQueryString } from 'querystring';
import { rejectHiddenFields } from './validation';

type Payload = NodeJS.ReadableStream & { resume(): unknown };

/** Reads a request body up to `limitBytes`; over it, 413 naming the limit (nothing more is kept). */
function readBody(payload: Payload, declaredLength: number, limitBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new PayloadTooLargeException(`Request body is larger than the limit of ${limitBytes} bytes`);
  if (declaredLength > limitBytes) {
    payload.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) {
        payload.removeListener('data', onData);
        payload.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    payload.on('data', onData);
    payload.once('error', reject);
    payload.once('end', () => resolve(Buffer.concat(chunks, received)));
  });
}

/** JSON as Express's body-parser read it: `{}` when empty, only an object or array at the top. */
function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  const first = /\S/.exec(text)?.[0];
  let parsed: unknown;
  try {
    if (first !== '{' && first !== '[')
      throw new SyntaxError(`Unexpected token '${first}', JSON body must be an object or array`);
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    throw new BadRequestException(`Malformed JSON in request body: ${(error as Error).message}`);
  }
  // `__proto__`, `constructor` and the like are refused in every body, whichever route it goes to.
  rejectHiddenFields(parsed);
  return parsed;
}

/**
 * The body parsers, with the configured limit (the adapter's own are turned off: `bodyParser:
 * false`): JSON and forms as the Express app parsed them, with the same 413 and 400 messages. A
 * body of any other type is read (within the limit) and dropped, as Express did: the handler sees
 * no body and validation answers 400, rather than fastify's 415. Multipart bodies are left to the
 * upload interceptors (src/common/multipart.ts).
 */
export function registerBodyParsers(fastify: FastifyInstance, limitBytes: number): void {
  const parser =
    (parse: (body: Buffer) => unknown) =>
    (
      request: { headers: Record<string, unknown> },
      payload: Payload,
      done: (error: Error | null, body?: unknown) => void,
    ) => {
      const declared = Number(request.headers['content-length']);
      readBody(payload, Number.isFinite(declared) ? declared : 0, limitBytes).then(
        (body) => {
          let parsed: unknown;
          try {
            parsed = parse(body);
          } catch (error) {
            done(error as Error);
            return;
          }
          done(null, parsed);
        },
        (error: Error) => done(error),
      );
    };
  fastify.addContentTypeParser('application/json', parser(parseJson));
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    parser((body) => {
      const fields = { ...parseQueryString(body.toString('utf8')) };
      rejectHiddenFields(fields);
      return fields;
    }),
  );
  // fastify parses text/plain by default; Express did not.
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(
    '*',
    parser(() => undefined),
  );
}
