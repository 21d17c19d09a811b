/**
 * Model versions have readable, unique names: a trained version is named by its request's `name`, or
 * `<dataset>-<defense>-<YYYY-MM-DD>` (numbered `-2`, `-3`, ... when taken); an admin renames one with
 * PATCH /v1/models/:id. Rows registered before names existed are named by their id.
 */
import { DataSource } from 'typeorm';
import { AddModelNames1796410147484 } from '../../migrations/1796410147484-AddModelNames';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { FINISHED, pollJob, TINY_JOB, type JobBody } from './helpers';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { JOB_POLL_MS: '100', JOB_HEARTBEAT_MS: '200' } });
});
afterAll(() => t?.close());

const admin = <T extends { set(name: string, value: string): T }>(req: T): T =>
  req.set('x-api-key', t.adminKey);
const submit = (body: Record<string, unknown>) =>
  admin(t.http.post('/v1/training-jobs')).send(body);
const rename = (id: string, body: object) => admin(t.http.patch(`/v1/models/${id}`)).send(body);
const model = async (id: string) => {
  const res = await admin(t.http.get(`/v1/models/${id}`));
  expect(res.status).toBe(200);
  return res.body as { id: string; name: string };
};
const finished = async (id: string): Promise<JobBody> => {
  const job = await pollJob(
    () => t.http,
    t.adminKey,
    id,
    (j) => FINISHED.includes(j.status),
  );
  expect([job.status, job.error]).toEqual(['succeeded', null]);
  return job;
};

describe('names of trained model versions', () => {
  it('names a version after the request, else <dataset>-<defense>-<date>, numbered when taken', async () => {
    const first = await submit(TINY_JOB);
    const second = await submit(TINY_JOB);
    const named = await submit({ ...TINY_JOB, name: 'digits-v1' });
    for (const res of [first, second, named]) expect(res.status).toBe(202);
    // The default name is fixed at submission (the date is the request's).
    const base = async (id: string) =>
      (await admin(t.http.get(`/v1/training-jobs/${id}`))).body.spec.name as string;
    const [firstBase, secondBase] = [await base(first.body.id), await base(second.body.id)];
    expect(firstBase).toMatch(/^mnist-none-\d{4}-\d{2}-\d{2}$/);
    expect(await base(named.body.id)).toBe('digits-v1');

    const jobs = [
      await finished(first.body.id),
      await finished(second.body.id),
      await finished(named.body.id),
    ];
    const names = jobs.map((job) => job.result?.modelName);
    // Submitted on the same day (practically always), the second one is numbered.
    expect(names).toEqual([
      firstBase,
      secondBase === firstBase ? `${firstBase}-2` : secondBase,
      'digits-v1',
    ]);
    for (const [i, job] of jobs.entries()) {
      expect(job.modelId).toBe(`train-${job.id}`);
      expect(await model(job.modelId!)).toMatchObject({ id: job.modelId, name: names[i] });
    }
    const list = await admin(t.http.get('/v1/models'));
    expect(list.body.items.map((m: { name: string }) => m.name)).toEqual(
      expect.arrayContaining(['default', ...names]),
    );
  });

  it('refuses a training request for a taken name (409) or a malformed one (400), creating no job', async () => {
    const before = (await admin(t.http.get('/v1/training-jobs'))).body.total;
    const taken = await submit({ ...TINY_JOB, name: 'digits-v1' });
    expect(taken.status).toBe(409);
    expect(taken.body.message).toBe("another model is already named 'digits-v1'");
    for (const name of ['', 'two words', '-leading-dash', 'x'.repeat(129), ['a']]) {
      const bad = await submit({ ...TINY_JOB, name });
      expect([name, bad.status]).toEqual([name, 400]);
      expect(bad.body.message).toMatch(/^name must be 1-128 characters: letters, digits/);
    }
    expect((await admin(t.http.get('/v1/training-jobs'))).body.total).toBe(before);
  });
});

describe('PATCH /v1/models/:id', () => {
  it('renames a model: its id stays, and its old name is free again', async () => {
    const res = await rename('default', { name: 'baseline.mnist_0-4' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'default', name: 'baseline.mnist_0-4' });
    expect(await model('default')).toMatchObject({ name: 'baseline.mnist_0-4' });
    // Renaming to its own name is no conflict.
    expect((await rename('default', { name: 'baseline.mnist_0-4' })).status).toBe(200);
    const trained = (await admin(t.http.get('/v1/models'))).body.items.find(
      (m: { name: string }) => m.name === 'digits-v1',
    ) as { id: string };
    expect((await rename(trained.id, { name: 'default' })).status).toBe(200);
    expect(await model(trained.id)).toMatchObject({ name: 'default' });
  });

  it('answers 409 for a name another model has, 400 for a malformed one, 404 for an unknown id', async () => {
    const taken = await rename('default', { name: 'default' });
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({
      statusCode: 409,
      error: 'Conflict',
      message: "another model is already named 'default'",
    });
    for (const body of [{ name: 'no spaces' }, { name: '' }, { name: ['a'] }, {}]) {
      const res = await rename('default', body);
      expect([body, res.status]).toEqual([body, 400]);
      expect(res.body.message).toMatch(/^name must be 1-128 characters/);
    }
    expect((await rename('default', { name: 'a b' })).body.message).toBe(
      "name must be 1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (got \"a b\")",
    );
    const extra = await rename('default', { name: 'ok', id: 'other' });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toBe('property id should not exist');
    const unknown = await rename('no-such-model', { name: 'fine' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('No model with id no-such-model');
    const malformed = await rename('bad%20id', { name: 'fine' });
    expect(malformed.status).toBe(400);
    expect(await model('default')).toMatchObject({ name: 'baseline.mnist_0-4' });
  });

  it('needs an admin key', async () => {
    const res = await t.http
      .patch('/v1/models/default')
      .set('x-api-key', await t.keyFor('security'))
      .send({ name: 'mine' });
    expect(res.status).toBe(403);
  });
});

describe('models registered before names existed', () => {
  it('are named by their id by the migration, and can be renamed', async () => {
    const runner = t.app.get(DataSource).createQueryRunner();
    const migration = new AddModelNames1796410147484();
    try {
      await migration.down(runner);
      await runner.query(
        `INSERT INTO models (id, directory, manifest, embedding_dim)
         VALUES ('legacy-1', '/nowhere', '{"embeddingDim": 8}'::jsonb, 8)`,
      );
      await migration.up(runner);
    } finally {
      await runner.release();
    }
    expect(await model('legacy-1')).toMatchObject({ id: 'legacy-1', name: 'legacy-1' });
    // Every row is named by its id again after the migration ran anew.
    expect(await model('default')).toMatchObject({ name: 'default' });
    expect((await rename('legacy-1', { name: 'legacy-renamed' })).status).toBe(200);
    expect(await model('legacy-1')).toMatchObject({ name: 'legacy-renamed' });
  });
});
