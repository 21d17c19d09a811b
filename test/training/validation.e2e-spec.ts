import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { TINY_JOB } from './helpers';

let t: TestApp;
let root: string;
let outside: string;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-roots-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-outside-'));
  fs.mkdirSync(path.join(outside, 'secret', 'a'), { recursive: true });
  // A folder data set as far as submission looks (the listing): 3 classes of 2 images.
  for (const label of ['a', 'b', 'c']) {
    fs.mkdirSync(path.join(root, 'digits', label), { recursive: true });
    for (const file of ['1.png', '2.png'])
      fs.writeFileSync(path.join(root, 'digits', label, file), '');
  }
  // A link inside the root that points outside it must not let a request out.
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'escape'));
  // No worker runs the jobs this file creates: it checks the API only.
  t = await createTestApp({ env: { DATA_ROOTS: root, SERVE_ROLE: 'api', JOB_POLL_MS: '60000' } });
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const post = (body: Record<string, unknown>, key = t.adminKey) =>
  t.http.post('/v1/training-jobs').set('x-api-key', key).send(body);

describe('POST /v1/training-jobs rejects bad input up front, creating no job', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'unknown data set',
      { dataset: 'cifar10' },
      /unknown data set 'cifar10': valid data sets are mnist, mnist-all, iconify\[:OPTIONS\], emoji\[:OPTIONS\], folder:PATH, idx:IMAGES,LABELS, gallery/,
    ],
    [
      'unknown loss',
      { loss: 'arcface' },
      /unknown loss 'arcface': valid losses are triplet, triplet-semihard, contrastive, margin, multi-similarity/,
    ],
    [
      'unknown defence',
      { defense: 'magic' },
      /unknown defense 'magic': valid defenses are none, panum, naive, est, act, hm, hm-ics/,
    ],
    [
      'unknown backbone',
      { backbone: 'resnet' },
      /unknown backbone 'resnet': valid backbones are small-cnn, mobilenetv2/,
    ],
    ['epochs 0', { epochs: 0 }, /epochs must be at least 1/],
    ['eps below 0', { defense: 'est', defenseParams: { eps: -0.1 } }, /eps must be in \[0, 1\]/],
    ['eps above 1', { defense: 'est', defenseParams: { eps: 1.5 } }, /eps must be in \[0, 1\]/],
    [
      'batch size smaller than m',
      { batchSize: 4, perClass: 8 },
      /batchSize 4 is smaller than the sampler's per-class m \(perClass 8\)/,
    ],
    [
      'more classes per batch than the data set trains on',
      { batchSize: 64, perClass: 8 },
      /^batch 64 with 8 per class needs 8 classes; mnist has 5 training classes$/,
    ],
    [
      'batch size not a multiple of m',
      { batchSize: 20, perClass: 8 },
      /must be a multiple of perClass 8/,
    ],
    [
      'a path escaping the root with ..',
      { dataset: 'folder:../../etc' },
      /not found inside the allowed data roots/,
    ],
    [
      'an absolute path outside the roots',
      { dataset: `folder:${outside}/secret` },
      /not found inside the allowed data roots/,
    ],
    [
      'a symlink out of the root',
      { dataset: 'folder:escape' },
      /not found inside the allowed data roots/,
    ],
    [
      'a folder that does not exist',
      { dataset: 'folder:nope' },
      /not found inside the allowed data roots/,
    ],
    [
      'idx files outside the roots',
      { dataset: 'idx:/etc/passwd,/etc/hosts' },
      /not found inside the allowed data roots/,
    ],
    ['an unknown field', { learningRat: 0.1 }, /property learningRat should not exist/],
    [
      'a gallery without labelled classes',
      { dataset: 'gallery' },
      /the gallery has 0 labels with at least 2 images/,
    ],
    [
      'an unknown inner maximisation',
      { defense: 'panum', inner: 'bogus' },
      /unknown inner method 'bogus': valid inner methods are pgd, fast, free/,
    ],
    [
      'free training of a defence that crafts against another objective',
      { defense: 'act', inner: 'free' },
      /inner free trains panum and naive only .*not act: it crafts to collapse positives onto negatives/,
    ],
    [
      'an inner maximisation without a defence',
      { defense: 'none', inner: 'fast' },
      /defence none has no inner maximisation/,
    ],
    [
      'zero free replays',
      { defense: 'panum', inner: 'free', freeReplays: 0 },
      /freeReplays must not be less than 1/,
    ],
    [
      'an unknown overfitting action',
      { defense: 'panum', inner: 'fast', onOverfit: 'panic' },
      /unknown overfitting action 'panic': valid overfitting actions are warn, stop, fallback/,
    ],
  ];

  it.each(cases)('%s -> 400 with a message', async (_name, change, message) => {
    const res = await post({ ...TINY_JOB, ...change });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('left no job behind', async () => {
    const res = await t.http.get('/v1/training-jobs').set('x-api-key', t.adminKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], total: 0, page: 1, limit: 100 });
  });
});

describe('training jobs API', () => {
  it('accepts a folder inside a data root, stores the resolved path, lists and cancels it', async () => {
    const res = await post({ ...TINY_JOB, dataset: 'folder:digits', batchSize: 8, perClass: 4 });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    const job = await t.http.get(`/v1/training-jobs/${res.body.id}`).set('x-api-key', t.adminKey);
    expect(job.body.spec).toMatchObject({
      datasetName: 'folder:digits',
      dataset: `folder:${fs.realpathSync(path.join(root, 'digits'))}`,
    });
    const queued = await t.http.get('/v1/training-jobs?status=queued').set('x-api-key', t.adminKey);
    expect(queued.body.items.map((j: { id: string }) => j.id)).toEqual([res.body.id]);
    const cancel = await t.http
      .post(`/v1/training-jobs/${res.body.id}/cancel`)
      .set('x-api-key', t.adminKey);
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({
      status: 'cancelled',
      error: 'cancelled before it started',
    });
  });

  it('queues fast and free training with their settings in the job spec', async () => {
    for (const change of [
      { inner: 'fast', onOverfit: 'stop' },
      { inner: 'free', freeReplays: 2 },
    ]) {
      const res = await post({ ...TINY_JOB, defense: 'panum', ...change });
      expect(res.status).toBe(202);
      const job = await t.http.get(`/v1/training-jobs/${res.body.id}`).set('x-api-key', t.adminKey);
      expect(job.body.spec).toMatchObject({ defense: 'panum', ...change });
      await t.http.post(`/v1/training-jobs/${res.body.id}/cancel`).set('x-api-key', t.adminKey);
    }
  });

  it('rejects an unknown status filter', async () => {
    const res = await t.http.get('/v1/training-jobs?status=done').set('x-api-key', t.adminKey);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/status must be one of queued, running/);
  });

  it('404s unknown and malformed ids', async () => {
    for (const id of ['0b8a0d4e-4a55-4c1e-9d43-1f6f3b8b1f10', 'not-a-uuid']) {
      const res = await t.http.get(`/v1/training-jobs/${id}`).set('x-api-key', t.adminKey);
      expect(res.status).toBe(404);
      expect(res.body.message).toBe(`No training job with id ${id}`);
      const cancel = await t.http
        .post(`/v1/training-jobs/${id}/cancel`)
        .set('x-api-key', t.adminKey);
      expect(cancel.status).toBe(404);
    }
  });

  it('needs an admin key', async () => {
    expect((await t.http.get('/v1/training-jobs')).status).toBe(401);
    const res = await post(TINY_JOB, await t.keyFor('search'));
    expect(res.status).toBe(403);
  });
});
