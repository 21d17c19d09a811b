/**
 * A training request whose batches the data set's training classes cannot fill (batchSize / perClass
 * classes per batch) is refused at submission with the numbers named, by the API and by `rir train`
 * alike, instead of being accepted and failing in the worker.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { runCli } from '../utils/run-cli';
import { TINY_JOB } from './helpers';

let t: TestApp;
let root: string;

/** DATA_ROOTS/tiny: 5 class folders of 2 small PNGs each (the first 3 classes train). */
async function writeTinyFolder(dir: string): Promise<void> {
  for (let c = 0; c < 5; c++) {
    fs.mkdirSync(path.join(dir, `class-${c}`), { recursive: true });
    for (let i = 0; i < 2; i++) {
      const png = await sharp({
        create: { width: 8, height: 8, channels: 3, background: { r: 40 * c, g: 90 * i, b: 7 } },
      })
        .png()
        .toBuffer();
      fs.writeFileSync(path.join(dir, `class-${c}`, `${i}.png`), png);
    }
  }
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-batch-classes-'));
  await writeTinyFolder(path.join(root, 'tiny'));
  // No worker runs the jobs this file creates: it checks submission only.
  t = await createTestApp({ env: { DATA_ROOTS: root, SERVE_ROLE: 'api', JOB_POLL_MS: '60000' } });
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const post = (body: Record<string, unknown>) =>
  t.http.post('/v1/training-jobs').set('x-api-key', t.adminKey).send(body);
const jobCount = async () =>
  (await t.http.get('/v1/training-jobs').set('x-api-key', t.adminKey)).body.total as number;

describe('batches that the training classes cannot fill', () => {
  it.each([
    [
      'a folder with 3 training classes, batch 40 of 4 per class',
      { dataset: 'folder:tiny', batchSize: 40, perClass: 4 },
      'batch 40 with 4 per class needs 10 classes; folder:tiny has 3 training classes',
    ],
    [
      'the same folder with the default per-class m',
      { dataset: 'folder:tiny', batchSize: 128, perClass: undefined },
      'batch 128 with 8 per class needs 16 classes; folder:tiny has 3 training classes',
    ],
    [
      'mnist (5 training classes), batch 64 of 8 per class',
      { dataset: 'mnist', batchSize: 64, perClass: 8 },
      'batch 64 with 8 per class needs 8 classes; mnist has 5 training classes',
    ],
    [
      'mnist-all (10 training classes), batch 176 of 16 per class',
      { dataset: 'mnist-all', batchSize: 176, perClass: 16 },
      'batch 176 with 16 per class needs 11 classes; mnist-all has 10 training classes',
    ],
    [
      'iconify with 6 classes (3 train), batch 16 of 4 per class',
      { dataset: 'iconify:classes=6', batchSize: 16, perClass: 4 },
      'batch 16 with 4 per class needs 4 classes; iconify:classes=6 has 3 training classes',
    ],
  ])('%s -> 400 naming the numbers, no job', async (_name, change, message) => {
    const before = await jobCount();
    const res = await post({ ...TINY_JOB, ...change });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', message });
    expect(await jobCount()).toBe(before);
  });

  it('accepts a batch the folder can fill (2 classes of 4)', async () => {
    const res = await post({ ...TINY_JOB, dataset: 'folder:tiny', batchSize: 8, perClass: 4 });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
  });

  it('accepts mnist-all with c2f2 and the default batch: 8 of its 10 digits, 16 images each', async () => {
    const res = await post({
      ...TINY_JOB,
      dataset: 'mnist-all',
      backbone: 'c2f2',
      batchSize: undefined,
      perClass: undefined,
    });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
  });

  it('refuses a folder that is no data set (a class with one image) at submission', async () => {
    const dir = path.join(root, 'lonely');
    fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
    fs.copyFileSync(path.join(root, 'tiny', 'class-0', '0.png'), path.join(dir, 'a', '0.png'));
    fs.copyFileSync(path.join(root, 'tiny', 'class-0', '1.png'), path.join(dir, 'a', '1.png'));
    fs.copyFileSync(path.join(root, 'tiny', 'class-1', '0.png'), path.join(dir, 'b', '0.png'));
    const res = await post({ ...TINY_JOB, dataset: 'folder:lonely', batchSize: 8, perClass: 4 });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/holds a single image; each class needs at least 2/);
  });

  it('rir train gives the same message before a worker starts', async () => {
    const dataset = `folder:${path.join(root, 'tiny')}`;
    const api = await post({ ...TINY_JOB, dataset, batchSize: 40, perClass: 4 });
    expect(api.status).toBe(400);
    const out = path.join(root, 'cli-out');
    const cli = await runCli([
      'train',
      '--dataset',
      dataset,
      '--batch-size',
      '40',
      '--per-class',
      '4',
      '--out',
      out,
    ]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(api.body.message);
    expect(api.body.message).toBe(
      `batch 40 with 4 per class needs 10 classes; ${dataset} has 3 training classes`,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('trainBackbone', () => {
  it('is refused for a backbone that trains every layer already (400, no job)', async () => {
    const before = await jobCount();
    const res = await post({ ...TINY_JOB, backbone: 'small-cnn', trainBackbone: true });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      'trainBackbone applies to the pretrained mobilenetv2 backbones; small-cnn trains every layer already',
    );
    expect(await jobCount()).toBe(before);
  });

  it('must be a boolean', async () => {
    const res = await post({ ...TINY_JOB, trainBackbone: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('trainBackbone must be true or false');
  });

  it('is accepted for mobilenetv2-early and kept in the job spec', async () => {
    const res = await post({
      ...TINY_JOB,
      dataset: 'folder:tiny',
      backbone: 'mobilenetv2-early',
      trainBackbone: true,
      batchSize: 8,
      perClass: 4,
    });
    expect(res.status).toBe(202);
  });
});
