/**
 * GET /v1/probes/:id/report.html: the example images inline in the page are the PNGs the probe kept
 * (bytea comes back as a Uint8Array from embedded PGlite and as a Buffer from PostgreSQL), and a
 * request for a probe that is not there is answered as JSON like every other error.
 */
import { createTestApp, TestApp } from '../utils/create-test-app';
import { waitForProbe, writeTrainedModel } from './fixtures';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, which must come first. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('probe report page (e2e)', () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await createTestApp();
    key = await t.keyFor('security');
    await writeTrainedModel(t.config.dataDir, 'mlp-random', { defense: 'none', steps: 0 });
  });
  afterAll(() => t?.close());

  it('inlines each example as the PNG the probe kept, with the announced size', async () => {
    const start = await t.http
      .post('/v1/probes')
      .set('x-api-key', key)
      .send({
        model: 'mlp-random',
        attacks: ['ES'],
        steps: 1,
        sampleSize: 2,
        gallerySize: 20,
        examples: 2,
      });
    expect(start.status).toBe(202);
    const id = start.body.id as string;
    const report = (await waitForProbe(t, key, id)).report!;
    expect(report.examples).toHaveLength(2);

    const page = await t.http.get(`/v1/probes/${id}/report.html`).set('x-api-key', key);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const images = [
      ...page.text.matchAll(
        /<img alt="example (\d+)" width="(\d+)" height="(\d+)" src="data:image\/png;base64,([^"]*)">/g,
      ),
    ];
    expect(images.map((m) => Number(m[1]))).toEqual(report.examples.map((e) => e.n));
    for (const [, n, width, height, base64] of images) {
      const example = report.examples.find((e) => e.n === Number(n))!;
      expect(base64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      const png = Buffer.from(base64, 'base64');
      expect(pngSize(png)).toEqual({ width: example.png.width, height: example.png.height });
      expect([Number(width), Number(height)]).toEqual([example.png.width, example.png.height]);
      // The very bytes GET /examples/N.png serves.
      const served = await t.http
        .get(`/v1/probes/${id}/examples/${n}.png`)
        .set('x-api-key', key)
        .buffer(true)
        .parse((response, done) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(served.status).toBe(200);
      expect((served.body as Buffer).equals(png)).toBe(true);
    }
  });

  it('answers an unknown probe with a JSON 404 and a malformed id with a JSON 400', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const missing = await t.http.get(`/v1/probes/${unknown}/report.html`).set('x-api-key', key);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
    expect(missing.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: `No probe job with id ${unknown}`,
    });
    for (const path of [
      '/v1/probes/not-a-uuid/report.html',
      '/v1/probes/not-a-uuid',
      '/v1/probes/not-a-uuid/examples/0.png',
    ]) {
      const res = await t.http.get(path).set('x-api-key', key);
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'probe id must be a UUID',
      });
    }
  });
});
