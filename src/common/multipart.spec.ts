import fastifyMultipart from '@fastify/multipart';
import { HttpException } from '@nestjs/common';
import fastify, { FastifyInstance } from 'fastify';
import { readMultipart } from './multipart';

const BOUNDARY = 'x-test-boundary';

/** A multipart/form-data body: files as [field, name, bytes], fields as [name, value]. */
function form(files: [string, string, Buffer][], fields: [string, string][] = []): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(
      Buffer.from(
        `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
    );
  }
  for (const [field, filename, bytes] of files) {
    parts.push(
      Buffer.from(
        `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
          'content-type: application/octet-stream\r\n\r\n',
      ),
      bytes,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}

describe('readMultipart (the upload interceptors on fastify)', () => {
  let app: FastifyInstance;
  const limits = { fileSize: 100, files: 3 };

  beforeAll(async () => {
    app = fastify();
    await app.register(fastifyMultipart);
    app.post('/:mode', async (request, reply) => {
      const single = (request.params as { mode: string }).mode === 'single';
      try {
        const { files, body } = await readMultipart(request, 'files', single, limits);
        return {
          files: files.map((f) => ({
            name: f.originalname,
            size: f.size,
            text: f.buffer.toString(),
          })),
          body: { ...body },
        };
      } catch (error) {
        if (!(error instanceof HttpException)) throw error;
        return reply.status(error.getStatus()).send({ message: error.message });
      }
    });
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (payload: Buffer, mode = 'many') =>
    app.inject({
      method: 'POST',
      url: `/${mode}`,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload,
    });

  it('reads the files of the field into memory and the text fields as the body', async () => {
    const res = await post(
      form(
        [
          ['files', 'a.png', Buffer.from('aaa')],
          ['files', 'b.png', Buffer.from('bb')],
        ],
        [
          ['label', 'seven'],
          ['tag', 'x'],
          ['tag', 'y'],
        ],
      ),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      files: [
        { name: 'a.png', size: 3, text: 'aaa' },
        { name: 'b.png', size: 2, text: 'bb' },
      ],
      body: { label: 'seven', tag: ['x', 'y'] },
    });
  });

  it.each([
    [
      'a file over the size limit',
      form([['files', 'big.png', Buffer.alloc(101, 1)]]),
      'many',
      413,
      'File too large',
    ],
    [
      'more files than the limit',
      form(
        [1, 2, 3, 4].map((i): [string, string, Buffer] => ['files', `${i}.png`, Buffer.from('x')]),
      ),
      'many',
      400,
      'Too many files',
    ],
    [
      'a file in another field',
      form([['other', 'a.png', Buffer.from('x')]]),
      'many',
      400,
      'Unexpected file field - other',
    ],
    [
      'a second file where one is expected',
      form([
        ['files', 'a.png', Buffer.from('x')],
        ['files', 'b.png', Buffer.from('y')],
      ]),
      'single',
      400,
      'Unexpected file field - files',
    ],
    [
      'a body cut off in the middle',
      form([['files', 'a.png', Buffer.from('abc')]]).subarray(0, 80),
      'many',
      400,
      'Multipart: Unexpected end of form',
    ],
  ])('%s is refused as multer refused it', async (_name, payload, mode, status, message) => {
    const res = await post(payload, mode);
    expect(res.statusCode).toBe(status);
    expect(res.json().message).toBe(message);
  });
});
