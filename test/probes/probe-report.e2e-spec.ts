/**
 * Probes end to end on tiny real models (an MLP trained on MNIST's training digits, undefended and
 * with the panum defence): the probe's figures equal the suite's on the same samples and seed, an eps
 * list gives a non-increasing R@1 curve, examples are PNGs of the announced size, the HTML report
 * draws the curve, and a probe against the live gallery leaves gallery, index and deployed model alone.
 */
import sharp from 'sharp';
import { ATTACK_NAMES, type AttackName } from '../../src/ml/attacks/definitions';
import { initBackend } from '../../src/ml/backend';
import { evaluateRobustness } from '../../src/ml/robustness/evaluate';
import { reportInFractions } from '../../src/ml/robustness/units';
import { exampleLayout } from '../../src/modules/probes/runner/example-layout';
import { VectorIndexService } from '../../src/modules/search/vector-index.service';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { countRates, ratesOutsideUnit } from '../utils/rates';
import { deployAndWait } from '../search/fixtures';
import { mnistPngs, waitForProbe, writeTrainedModel } from './fixtures';

describe('probe reports (e2e)', () => {
  let t: TestApp;
  let key: string;
  const dirs: Record<string, string> = {};
  const finished: Record<string, string> = {};

  beforeAll(async () => {
    await initBackend(process.env.TFJS_BACKEND);
    t = await createTestApp();
    key = await t.keyFor('security');
    dirs['mlp-none'] = await writeTrainedModel(t.config.dataDir, 'mlp-none', {
      defense: 'none',
      steps: 150,
    });
    dirs['mlp-panum'] = await writeTrainedModel(t.config.dataDir, 'mlp-panum', {
      defense: 'panum',
      steps: 60,
    });
  });
  afterAll(() => t?.close());

  const start = async (body: Record<string, unknown>): Promise<string> => {
    const res = await t.http.post('/v1/probes').set('x-api-key', key).send(body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  // The undefended model with the whole suite (and ERS); the panum model with a cheaper subset.
  it.each([
    ['mlp-none', [...ATTACK_NAMES]],
    ['mlp-panum', ['ES', 'GTM', 'CA+']],
  ] as [string, AttackName[]][])(
    '%s: the probe at eps 77/255 x 32 steps shows the suite figures of the same samples and seed',
    async (model, attacks) => {
      const config = {
        eps: 77 / 255,
        stepSize: 3 / 255,
        steps: 32,
        sampleSize: 8,
        gallerySize: 150,
        seed: 5,
      };
      const id = await start({
        ...config,
        model,
        eps: '77/255',
        attacks: attacks.length === ATTACK_NAMES.length ? 'all' : attacks,
        examples: model === 'mlp-none' ? 2 : 0,
      });
      const probe = await waitForProbe(t, key, id);
      finished[model] = id;
      const report = probe.report!;
      // What `rir attack --model DIR --dataset mnist --eps 77/255 --alpha 3/255 --steps 32 --sample 8
      // --gallery 150 --seed 5` computes (its worker calls evaluateRobustness), as its --json gives it:
      // rates in fractions, as the API.
      const suite = await evaluateRobustness({
        modelDir: dirs[model],
        dataset: 'mnist',
        attacks: attacks.join(','),
        eps: config.eps,
        alpha: config.stepSize,
        steps: config.steps,
        sampleSize: config.sampleSize,
        gallerySize: config.gallerySize,
        seed: config.seed,
      });
      const direct = reportInFractions(suite);
      // Every rate, percentile rank and ERS of the report is a fraction in [0, 1].
      expect(ratesOutsideUnit(report)).toEqual([]);
      expect(countRates(report)).toBeGreaterThan(50);
      expect(report.clean.recallAt1).toBeCloseTo(suite.natural.recallAt1 / 100, 12);
      // The list's headline figures are the report's, in the same unit.
      const listed = await t.http.get('/v1/probes?limit=1000').set('x-api-key', key);
      const summary = (listed.body.items as { id: string; summary: unknown }[]).find(
        (p) => p.id === id,
      )!.summary;
      expect(summary).toEqual({
        cleanRecallAt1: report.clean.recallAt1,
        adversarialRecallAt1: report.adversarialRecallAt1,
        ers: report.ers,
        warnings: report.sanity.warnings.length,
      });
      expect(ratesOutsideUnit(summary)).toEqual([]);
      expect(report.primaryEps).toBeCloseTo(77 / 255, 12);
      expect(Object.keys(report.figures).sort()).toEqual(Object.keys(direct.figures).sort());
      for (const [metric, value] of Object.entries(direct.figures))
        expect(report.figures[metric as keyof typeof report.figures]).toBeCloseTo(value, 6);
      if (direct.ers === null) expect(report.ers).toBeNull();
      else expect(report.ers).toBeCloseTo(direct.ers, 6);
      expect(report.clean.recallAt1).toBeCloseTo(direct.natural.recallAt1, 6);
      expect(report.clean.mapAtR).toBeCloseTo(direct.natural.mapAtR, 6);
      expect(report.sanity.maxPerturbation).toBeCloseTo(direct.sanity.maxPerturbation, 6);
      expect(report.sanity.withinEps).toBe(true);
      expect(report.sanity.strength?.stronger).toBeCloseTo(direct.sanity.strength!.stronger, 6);
      expect(report.model.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
      // R@1 under attack is reported for the attacks that have one.
      expect(report.attacks.find((a) => a.attack === 'ES')?.recallAt1UnderAttack).toBe(
        direct.figures['ES:R'],
      );
      expect(report.attacks.find((a) => a.attack === 'CA+')?.recallAt1UnderAttack).toBeNull();
      // Every figure with n and its 95% interval (the ones `rir attack` computes); R@1 figures with chance.
      const estimates = report.estimates!;
      for (const [metric, value] of Object.entries(report.figures)) {
        const e = estimates.figures[metric as keyof typeof report.figures]!;
        expect(e.n).toBe(8);
        expect(e.value).toBeCloseTo(value, 6);
        expect(e.low).toBeLessThanOrEqual(e.value + 1e-9);
        expect(e.high).toBeGreaterThanOrEqual(e.value - 1e-9);
        const same = direct.estimates.figures[metric as keyof typeof report.figures]!;
        expect([e.low, e.high]).toEqual([same.low, same.high]);
      }
      expect(report.chance?.recallAt1).toBeCloseTo(direct.chance.recallAt1, 10);
      expect(estimates.figures['ES:R']).toMatchObject({
        method: 'wilson',
        chance: direct.chance.recallAt1,
      });
      expect(estimates.naturalRecallAt1).toMatchObject({ n: 8, chance: direct.chance.recallAt1 });
      expect(estimates.mapAtR).toMatchObject({ n: 8, method: 'bootstrap' });
      if (direct.ers === null) expect(estimates.ers).toBeNull();
      else expect(estimates.ers?.value).toBeCloseTo(direct.ers, 6);
      const es = report.attacks.find((a) => a.attack === 'ES')!;
      expect(es.estimates?.['ES:R']).toMatchObject({ n: 8 });
      expect(es.cleanEstimates?.['ES:R']).toMatchObject({ n: 8 });
      expect(report.curve[0].estimates?.recallAt1).toMatchObject({ n: 8, method: 'wilson' });
      expect(report.sanity.alternative).toMatchObject({ momentum: 1, alternative: { n: 8 } });
      // The CA+ rank distribution is measured on the very perturbations behind the CA+ figure.
      expect(report.candidateRanks?.ranks.count).toBe(8);
      expect(report.candidateRanks?.ranks.mean).toBeCloseTo(direct.figures['CA+']!, 6);
    },
  );

  it('serves examples as PNGs of the announced size, labels in the report, and 404 past the last', async () => {
    const id = finished['mlp-none'];
    const report = (await waitForProbe(t, key, id)).report!;
    expect(report.examples).toHaveLength(2);
    const layout = exampleLayout([28, 28, 1]);
    for (const example of report.examples) {
      expect(example.png).toEqual(layout);
      expect(['5', '6', '7', '8', '9']).toContain(example.label);
      expect(['5', '6', '7', '8', '9']).toContain(example.cleanTop.label);
      expect(['5', '6', '7', '8', '9']).toContain(example.attackedTop.label);
      expect(example.maxPerturbation).toBeLessThanOrEqual(77 / 255 + 1e-6);
      const res = await t.http
        .get(`/v1/probes/${id}/examples/${example.n}.png`)
        .set('x-api-key', key)
        .buffer(true)
        .parse((response, done) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      const meta = await sharp(res.body as Buffer).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 3 * 28 * 4 + 8, 112]);
    }
    const missing = await t.http.get(`/v1/probes/${id}/examples/2.png`).set('x-api-key', key);
    expect(missing.status).toBe(404);
    const html = await t.http.get(`/v1/probes/${id}/report.html`).set('x-api-key', key);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.text).toContain('<svg');
    expect(html.text).toContain('data:image/png;base64,');
    // Figures with their interval and n, chance beside the R@1 figures, and the verdict in words.
    expect(html.text).toMatch(
      /<tr><td>ES:R<\/td><td>\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 8<\/td><td>\d+\.\d<\/td>/,
    );
    expect(html.text).toMatch(
      /<tr><td>TMA<\/td><td>-?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\], n = 8<\/td><td>-<\/td>/,
    );
    expect(html.text).toMatch(
      /Clean R@1 <b>\d+\.\d% \[\d+\.\d, \d+\.\d\], n = 8<\/b> \(chance \d+\.\d%\)/,
    );
    expect(html.text).toMatch(/ERS <b>\d+\.\d \[\d+\.\d, \d+\.\d\], n = 8<\/b>/);
    expect(html.text).toMatch(
      /ES:R \d+\.\d% \[\d+\.\d, \d+\.\d\], n = 8 is (above|at|below) chance/,
    );
    expect(html.text).toContain('Wilson score intervals for rates');
    expect(html.text).toMatch(/Another attack: ES:R \d+\.\d% \[/);
  });

  it('gives a non-increasing R@1 curve over an eps list on the trained model, and draws it', async () => {
    const eps = [0, 0.03, 0.1, 0.2, 0.3];
    const id = await start({
      model: 'mlp-none',
      attacks: ['ES'],
      eps: [0.3, 0.2, 0.1, 0.03, 0],
      stepSize: 0.03,
      steps: 12,
      sampleSize: 30,
      gallerySize: 200,
      seed: 1,
      examples: 0,
    });
    const report = (await waitForProbe(t, key, id)).report!;
    expect(report.curve.map((p) => p.eps)).toEqual(eps);
    const recalls = report.curve.map((p) => p.recallAt1 as number);
    // eps 0 leaves the queries as they are: R@1 under "attack" is the clean R@1.
    expect(recalls[0]).toBeCloseTo(report.clean.recallAt1, 6);
    for (let i = 1; i < recalls.length; i++) expect(recalls[i]).toBeLessThanOrEqual(recalls[i - 1]);
    expect(recalls[recalls.length - 1]).toBeLessThan(recalls[0] - 0.2);
    for (const point of report.curve) {
      // The worst case per query is never better than what the attack at this eps alone measured.
      expect(point.recallAt1).toBeLessThanOrEqual(point.rawRecallAt1 as number);
      expect(point.rawRecallAt1).toBe(point.figures['ES:R']);
    }
    expect(report.curve[recalls.length - 1].figures['ES:R']).toBe(report.figures['ES:R']);
    if (!report.sanity.monotoneCurve)
      expect(report.sanity.warnings.join(' ')).toMatch(/attack at the larger eps is too weak/);
    const html = await t.http.get(`/v1/probes/${id}/report.html`).set('x-api-key', key);
    expect(html.text.match(/<circle /g)?.length).toBeGreaterThanOrEqual(2 * eps.length);
  });

  it('probes the live gallery with CA+ (rank distribution) and changes no gallery, index or deployed model', async () => {
    await deployAndWait(t, 'mlp-none');
    const digits = await mnistPngs(40, 2);
    for (const label of [...new Set(digits.map((d) => d.label))]) {
      let req = t.http
        .post('/v1/gallery/images')
        .set('x-api-key', t.adminKey)
        .field('label', label);
      for (const d of digits.filter((x) => x.label === label))
        req = req.attach('files', d.png, 'd.png');
      expect((await req).status).toBe(201);
    }
    const snapshot = async () => {
      const serving = t.app.get(VectorIndexService).current()!;
      const gallery = await t.http.get('/v1/gallery/images?limit=1').set('x-api-key', t.adminKey);
      const models = await t.http.get('/v1/models').set('x-api-key', t.adminKey);
      return {
        items: gallery.body.total,
        indexed: serving.index.size,
        servingModel: serving.modelId,
        active: models.body.items
          .filter((m: { active: boolean }) => m.active)
          .map((m: { id: string }) => m.id),
        modelStatuses: models.body.items
          .map((m: { id: string; status: string }) => `${m.id}:${m.status}`)
          .sort(),
      };
    };
    const before = await snapshot();
    expect(before).toMatchObject({
      items: 40,
      indexed: 40,
      servingModel: 'mlp-none',
      active: ['mlp-none'],
    });
    const id = await start({
      probeSet: 'gallery',
      attacks: ['CA+'],
      eps: 0.3,
      stepSize: 0.03,
      steps: 10,
      sampleSize: 10,
      queriesPerCandidate: 3,
      examples: 1,
    });
    const report = (await waitForProbe(t, key, id)).report!;
    expect(report.model.id).toBe('mlp-none');
    expect(report.probeSet).toMatchObject({ name: 'gallery', images: 40, sampleSize: 10 });
    const ranks = report.candidateRanks!;
    expect(ranks.liveGallery).toBe(true);
    expect(ranks.ranks.count).toBe(30);
    expect(ranks.ranks.histogram.reduce((a, b) => a + b.count, 0)).toBe(30);
    expect(ranks.ranks.mean).toBeLessThan(ranks.cleanMean);
    expect(ranks.ranks.quantiles.p0).toBeLessThanOrEqual(ranks.ranks.quantiles.p50);
    expect(report.examples[0].itemId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await snapshot()).toEqual(before);
  });
});
