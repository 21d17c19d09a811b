import { existsSync, readdirSync } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from '../search/fixtures';

describe('gallery (e2e)', () => {
  let t: TestApp;
  let searchKey: string;

  beforeAll(async () => {
    t = await createTestApp({
      env: { UPLOAD_MAX_FILE_BYTES: '200000', UPLOAD_MAX_PIXELS: '4000000' },
    });
    searchKey = await t.keyFor('search');
    await writeTinyModel(t.config.dataDir, 'tiny-a', 1);
    await deployAndWait(t, 'tiny-a');
  });
  afterAll(() => t?.close());

  const upload = (files: Buffer[], fields: Record<string, string> = {}, key = t.adminKey) => {
    let req = t.http.post('/v1/gallery/images').set('x-api-key', key);
    files.forEach((file, i) => (req = req.attach('files', file, `img-${i}.png`)));
    for (const [name, value] of Object.entries(fields)) req = req.field(name, value);
    return req;
  };

  async function galleryCount(): Promise<number> {
    const res = await t.http.get('/v1/gallery/images').set('x-api-key', searchKey);
    return res.body.total;
  }

  function storedFiles(): string[] {
    const dir = path.join(t.config.dataDir, 'images');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  it('uploads several images with label and metadata, lists, gets, serves content and deletes', async () => {
    const images = await Promise.all([1, 2, 3].map((seed) => tinyPng(seed)));
    const res = await upload(images, {
      label: 'cats',
      metadata: JSON.stringify({ source: 'test' }),
    });
    expect(res.status).toBe(201);
    expect(res.body.items).toHaveLength(3);
    for (const item of res.body.items) {
      expect(item).toMatchObject({
        label: 'cats',
        metadata: { source: 'test' },
        mime: 'image/png',
        width: 8,
        height: 8,
        duplicate: false,
      });
    }
    const [first] = res.body.items;

    const list = await t.http
      .get('/v1/gallery/images?label=cats&page=1&limit=2')
      .set('x-api-key', searchKey);
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ page: 1, limit: 2, total: 3 });
    expect(list.body.items).toHaveLength(2);

    const one = await t.http.get(`/v1/gallery/images/${first.id}`).set('x-api-key', searchKey);
    expect(one.body).toMatchObject({
      id: first.id,
      label: 'cats',
      contentSha256: first.contentSha256,
    });

    const content = await t.http
      .get(`/v1/gallery/images/${first.id}/content`)
      .set('x-api-key', searchKey);
    expect(content.status).toBe(200);
    expect(content.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(content.body as Buffer, images[0])).toBe(0);

    const similar = await t.http
      .get(`/v1/search/similar/${first.id}?k=5`)
      .set('x-api-key', searchKey);
    expect(similar.status).toBe(200);
    expect(similar.body.results.map((r: { id: string }) => r.id)).not.toContain(first.id);

    expect(
      (await t.http.delete(`/v1/gallery/images/${first.id}`).set('x-api-key', t.adminKey)).status,
    ).toBe(204);
    expect(
      (await t.http.get(`/v1/gallery/images/${first.id}`).set('x-api-key', searchKey)).status,
    ).toBe(404);
    expect(
      (await t.http.get(`/v1/search/similar/${first.id}`).set('x-api-key', searchKey)).status,
    ).toBe(404);
    expect(storedFiles()).not.toContain(first.contentSha256);
    expect(
      (await t.http.delete(`/v1/gallery/images/${first.id}`).set('x-api-key', t.adminKey)).status,
    ).toBe(404);
  });

  it('de-duplicates by content, within a request and across requests', async () => {
    const image = await tinyPng(50);
    const firstTime = await upload([image, image]);
    expect(firstTime.status).toBe(201);
    const [a, b] = firstTime.body.items;
    expect(a.duplicate).toBe(false);
    expect(b).toMatchObject({ id: a.id, duplicate: true });
    const again = await upload([image]);
    expect(again.body.items[0]).toMatchObject({ id: a.id, duplicate: true });
  });

  it('needs an admin key to upload or delete, a search key to read', async () => {
    const image = await tinyPng(60);
    expect((await upload([image], {}, searchKey)).status).toBe(403);
    expect((await t.http.get('/v1/gallery/images')).status).toBe(401);
  });

  describe('refuses bad input with a 4xx and a message, storing nothing', () => {
    const cases: [
      string,
      () => Promise<{ files: Buffer[]; fields?: Record<string, string> }>,
      number,
      RegExp,
    ][] = [
      [
        'a non-image file',
        async () => ({ files: [Buffer.from('hello, I am text')] }),
        415,
        /not a supported image/,
      ],
      ['an empty file', async () => ({ files: [Buffer.alloc(0)] }), 400, /empty/],
      [
        'a truncated PNG',
        async () => {
          const png = await sharp({
            create: { width: 64, height: 64, channels: 3, background: '#808080' },
          })
            .png({ compressionLevel: 0 })
            .toBuffer();
          return { files: [png.subarray(0, png.length >> 1)] };
        },
        400,
        /could not be decoded/,
      ],
      [
        'an image over the pixel limit (a 50-megapixel PNG)',
        async () => ({
          files: [
            await sharp({ create: { width: 10000, height: 5000, channels: 3, background: '#000' } })
              .grayscale()
              .png()
              .toBuffer(),
          ],
        }),
        413,
        /50000000 pixels, the limit is 4000000/,
      ],
      [
        'an image over the size limit',
        async () => ({ files: [Buffer.alloc(300_000, 1)] }),
        413,
        /too large/i,
      ],
      [
        'malformed metadata JSON',
        async () => ({ files: [await tinyPng(70)], fields: { metadata: '{"a":' } }),
        400,
        /metadata is not valid JSON/,
      ],
      [
        'metadata that is not an object',
        async () => ({ files: [await tinyPng(71)], fields: { metadata: '[1,2]' } }),
        400,
        /JSON object/,
      ],
      ['no files at all', async () => ({ files: [] }), 400, /No images/],
      [
        'one bad file among good ones',
        async () => ({ files: [await tinyPng(72), Buffer.from('nope')] }),
        415,
        /file 2/,
      ],
    ];
    it.each(cases)('%s', async (_name, build, status, message) => {
      const before = await galleryCount();
      const filesBefore = storedFiles().length;
      const { files, fields } = await build();
      const res = await upload(files, fields);
      expect(res.status).toBe(status);
      expect(res.body.message).toMatch(message);
      expect(await galleryCount()).toBe(before);
      expect(storedFiles()).toHaveLength(filesBefore);
    });
  });
});
