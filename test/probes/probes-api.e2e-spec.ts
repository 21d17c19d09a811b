/**
 * POST /v1/probes as an API: roles, up-front validation (4xx with a message, no job queued) and the
 * rate limit. The probes that do start are tiny (one step, two queries) and are awaited.
 */
import { createTestApp, TestApp } from '../utils/create-test-app';
import { waitForProbe, writeTrainedModel } from './fixtures';
import { PROBE_RATE_LIMIT } from '../../src/modules/probes/probes.controller';

describe('probes API (e2e)', () => {
  let t: TestApp;
  let securityKey: string;
  const tiny = {
    model: 'mlp-random',
    attacks: ['ES'],
    steps: 1,
    sampleSize: 2,
    gallerySize: 20,
    examples: 0,
  };

  beforeAll(async () => {
    t = await createTestApp();
    securityKey = await t.keyFor('security');
    await writeTrainedModel(t.config.dataDir, 'mlp-random', { defense: 'none', steps: 0 });
  });
  afterAll(() => t?.close());

  const post = (body: Record<string, unknown>, key = securityKey) =>
    t.http.post('/v1/probes').set('x-api-key', key).send(body);
  const probeCount = async (): Promise<number> => {
    const res = await t.http.get('/v1/probes').set('x-api-key', securityKey);
    expect(res.status).toBe(200);
    return res.body.total;
  };

  it('lets security and admin keys start probes (202 with an id) and refuses search keys (403)', async () => {
    const denied = await post(tiny, await t.keyFor('search'));
    expect(denied.status).toBe(403);
    const listDenied = await t.http.get('/v1/probes').set('x-api-key', await t.keyFor('search'));
    expect(listDenied.status).toBe(403);
    const before = await probeCount();
    const bySecurity = await post(tiny);
    const byAdmin = await post(tiny, t.adminKey);
    expect(bySecurity.status).toBe(202);
    expect(byAdmin.status).toBe(202);
    expect(bySecurity.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await probeCount()).toBe(before + 2);
    for (const id of [bySecurity.body.id, byAdmin.body.id]) {
      const done = await waitForProbe(t, securityKey, id);
      expect(done.status).toBe('succeeded');
      expect(done.report?.config).toMatchObject({
        model: 'mlp-random',
        attacks: ['ES'],
        steps: 1,
        sampleSize: 2,
      });
      expect(done.report?.probeSet).toMatchObject({
        name: 'dataset:mnist',
        images: 20,
        sampleSize: 2,
      });
    }
  });

  it('reads budgets given as fractions ("8/255") with the ML core parser, eps and stepSize alike', async () => {
    const res = await post({ ...tiny, eps: ['8/255', '0.01'], stepSize: '1/255' });
    expect(res.status).toBe(202);
    const done = await waitForProbe(t, securityKey, res.body.id);
    expect(done.report?.config.eps).toEqual([0.01, 8 / 255]);
    expect(done.report?.config.stepSize).toBeCloseTo(1 / 255, 12);
    const bad = await post({ ...tiny, stepSize: '1/zz' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/stepSize must be a number or a fraction such as 1\/255/);
  });

  it.each([
    ['eps < 0', { eps: -0.1 }, /eps must be in \[0, 1\]/],
    ['eps > 1', { eps: 1.5 }, /eps must be in \[0, 1\]/],
    ['an eps list with a bad value', { eps: [0.1, 2] }, /eps must be in \[0, 1\]/],
    ['steps 0', { steps: 0 }, /steps must be at least 1/],
    ['steps > 1000', { steps: 1001 }, /steps must be at most 1000/],
    ['an unknown attack', { attacks: ['ES', 'XYZ'] }, /unknown attack 'XYZ'/],
    ['sample size 0', { sampleSize: 0 }, /sampleSize must be at least 1/],
    [
      'a sample larger than the probe set',
      { sampleSize: 21, gallerySize: 20 },
      /sampleSize 21 exceeds the probe set/,
    ],
    ['an unknown probe set', { probeSet: 'dataset:cifar' }, /probeSet must be one of/],
    ['an unknown field', { colour: 'red' }, /property colour should not exist/],
    // Implicit conversion made any non-empty string true: "false" started a random-start probe.
    [
      'randomStart as the string "false"',
      { randomStart: 'false' },
      /randomStart must be a boolean/,
    ],
  ])('rejects %s with 400 and queues nothing', async (_name, change, message) => {
    const before = await probeCount();
    const res = await post({ ...tiny, ...change });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(await probeCount()).toBe(before);
  });

  it('answers 404 for an unknown model and 400 for a malformed one, queueing nothing', async () => {
    const before = await probeCount();
    const unknown = await post({ ...tiny, model: 'no-such-model' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/no-such-model/);
    const malformed = await post({ ...tiny, model: '../etc' });
    expect(malformed.status).toBe(400);
    expect(await probeCount()).toBe(before);
  });

  it('probes the deployed model when none is named (400 when none is deployed)', async () => {
    const models = await t.http.get('/v1/models').set('x-api-key', t.adminKey);
    const active = models.body.items.find((m: { active: boolean }) => m.active) as
      { id: string } | undefined;
    const { model: _model, ...rest } = tiny;
    const res = await post(rest);
    if (!active) {
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/no model is deployed/);
      return;
    }
    expect(res.status).toBe(202);
    const done = await waitForProbe(t, securityKey, res.body.id);
    expect(done.report?.model.id).toBe(active.id);
  });

  it('404s an unknown probe and its examples', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect((await t.http.get(`/v1/probes/${id}`).set('x-api-key', securityKey)).status).toBe(404);
    expect(
      (await t.http.get(`/v1/probes/${id}/examples/0.png`).set('x-api-key', securityKey)).status,
    ).toBe(404);
  });

  it('cancels a running probe: it stops with status cancelled and no report', async () => {
    const res = await post({ ...tiny, attacks: 'all', steps: 1000, sampleSize: 20 });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    for (;;) {
      const probe = await t.http.get(`/v1/probes/${id}`).set('x-api-key', securityKey);
      if (probe.body.status === 'running' && probe.body.progress) break;
      expect(['queued', 'running']).toContain(probe.body.status);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const cancel = await t.http.post(`/v1/probes/${id}/cancel`).set('x-api-key', securityKey);
    expect(cancel.status).toBe(202);
    const done = await waitForProbe(t, securityKey, id);
    expect(done.status).toBe('cancelled');
    expect(done.report).toBeNull();
  });

  // Last: it uses up this app's probe budget.
  it(`rate limits POST /v1/probes (${PROBE_RATE_LIMIT.limit} a minute) with 429 and Retry-After`, async () => {
    let limited = null;
    for (let i = 0; i <= PROBE_RATE_LIMIT.limit && !limited; i++) {
      const res = await post({ ...tiny, steps: 0 });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(400);
    }
    expect(limited).not.toBeNull();
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    // Reading is not limited by the probe budget.
    expect((await t.http.get('/v1/probes').set('x-api-key', securityKey)).status).toBe(200);
  });
});
