/**
 * Bundled models (README, "Bundled models"): every directory under the bundled models directory is
 * registered under its name; the robustness block of a manifest is validated at registration and
 * returned by GET /v1/models; a bundled model whose weights changed since it was registered (an
 * upgrade) gets its registration updated and, when it serves, is re-deployed at start, so searches
 * never use an index built from the old weights.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Logger } from '@nestjs/common';
import { percentToFraction, scaleRobustnessBlock } from '../../src/ml/robustness/units';
import { ModelRegistryService } from '../../src/modules/models/model-registry.service';
import { EmbeddingsRepository } from '../../src/modules/search/embeddings.repository';
import { VectorIndexService } from '../../src/modules/search/vector-index.service';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { deployAndWait, tinyPng, writeTinyModel } from './fixtures';
import { editManifest, robustnessBlock } from './robustness-fixture';

interface ModelBody {
  id: string;
  name: string;
  status: string;
  active: boolean;
  directory: string;
  manifest: { weightsSha256: string; robustness?: unknown };
  robustness: Record<string, unknown> | null;
}

describe('bundled models (e2e)', () => {
  let t: TestApp;
  let scratch: string;
  let bundledDir: string;
  /** A model directory outside the bundled one: the "retrained" weights an upgrade ships. */
  let retrained: string;
  const images: Buffer[] = [];
  const ids: string[] = [];

  beforeAll(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-bundled-'));
    bundledDir = path.join(scratch, 'models');
    await writeTinyModel(scratch, 'default', 1);
    const natural = await writeTinyModel(scratch, 'natural', 2);
    await editManifest(natural, (manifest) => {
      manifest.robustness = robustnessBlock(manifest.weightsSha256 as string);
    });
    retrained = await writeTinyModel(path.join(scratch, 'upgrade'), 'default', 3);
    t = await createTestApp({ env: { BUNDLED_MODELS_DIR: bundledDir } });
    for (let i = 0; i < 6; i++) images.push(await tinyPng(300 + i));
    let upload = t.http.post('/v1/gallery/images').set('x-api-key', t.adminKey);
    for (const image of images) upload = upload.attach('files', image, 'x.png');
    const res = await upload;
    expect(res.status).toBe(201);
    ids.push(...res.body.items.map((item: { id: string }) => item.id));
  });
  afterAll(async () => {
    await t?.close();
    await fs.rm(scratch, { recursive: true, force: true });
  });

  const admin = (url: string) => t.http.get(url).set('x-api-key', t.adminKey);
  const model = async (id: string): Promise<ModelBody> => {
    const res = await admin(`/v1/models/${id}`);
    expect(res.status).toBe(200);
    return res.body as ModelBody;
  };
  const vectors = async (modelId: string) =>
    new Map(
      (await t.app.get(EmbeddingsRepository).vectorsFor(modelId, ids)).map((row) => [
        row.itemId,
        row.vector,
      ]),
    );
  /** Each gallery image, searched by upload, finds itself first with score 1. */
  const findsItself = async () => {
    const key = await t.keyFor('search');
    for (const [i, image] of images.entries()) {
      const res = await t.http
        .post('/v1/search')
        .set('x-api-key', key)
        .attach('file', image, 'q.png')
        .field('k', '1');
      expect(res.status).toBe(200);
      expect(res.body.results[0].id).toBe(ids[i]);
      expect(res.body.results[0].score).toBeCloseTo(1, 4);
    }
  };

  it('registers every bundled directory under its name; a fresh install deploys default', async () => {
    const list = (await admin('/v1/models')).body.items as ModelBody[];
    expect(list.map((m) => m.id)).toEqual(expect.arrayContaining(['default', 'natural']));
    expect(await model('default')).toMatchObject({ active: true, status: 'deployed' });
    expect(await model('natural')).toMatchObject({ active: false, status: 'registered' });
    // The manifest's robustness block, typed in the answer (null: not measured).
    const natural = list.find((m) => m.id === 'natural')!;
    // Stored in percent (the suite's scale), answered in fractions: read as written, never misread.
    const stored = robustnessBlock(natural.manifest.weightsSha256);
    expect(natural.robustness).toEqual(scaleRobustnessBlock(stored, percentToFraction));
    expect(natural.robustness).toMatchObject({
      natural: { recallAt1: { value: 0.625, n: 100 } },
      adversarial: { gtm: { value: 0.25 }, ers: { value: 0.382 } },
      chance: { recallAt1: 0.201 },
      attack: { eps: 8 / 255 },
    });
    expect(natural.manifest.robustness).toEqual(natural.robustness);
    // The file keeps what was written.
    const file = JSON.parse(
      await fs.readFile(path.join(natural.directory, 'manifest.json'), 'utf8'),
    ) as { robustness: unknown };
    expect(file.robustness).toEqual(stored);
    expect(list.find((m) => m.id === 'default')!.robustness).toBeNull();
    const doc = (await t.http.get('/docs-json').expect(200)).body;
    const listed = doc.paths['/v1/models'].get.responses['200'].content['application/json'].schema;
    expect(listed).toEqual({ $ref: '#/components/schemas/ModelPageDto' });
    expect(doc.components.schemas.ModelPageDto.properties.items).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/ModelViewDto' },
    });
    expect(doc.components.schemas.ModelViewDto.properties.robustness).toMatchObject({
      nullable: true,
    });
    expect(Object.keys(doc.components.schemas.AdversarialFiguresDto.properties)).toEqual([
      'esR',
      'ltm',
      'gtm',
      'worstRecallAt1',
      'ers',
    ]);
  });

  it('an admin deploys either bundled model', async () => {
    await deployAndWait(t, 'natural');
    await findsItself();
    await deployAndWait(t, 'default');
    await findsItself();
  });

  it('a manifest changed on disk with the same weights updates the registration, without a re-deploy', async () => {
    const before = await vectors('default');
    const sha = (await model('default')).manifest.weightsSha256;
    await editManifest(path.join(bundledDir, 'default'), (manifest) => {
      manifest.robustness = robustnessBlock(sha, { budget: 'full suite' });
    });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      t = await t.restart();
      const messages = warn.mock.calls.map(([message]) => String(message));
      expect(messages.filter((m) => /weights changed|re-deploying/.test(m))).toEqual([]);
    } finally {
      warn.mockRestore();
    }
    expect((await model('default')).robustness).toMatchObject({ budget: 'full suite' });
    expect(await vectors('default')).toEqual(before);
    expect(t.app.get(VectorIndexService).current()?.modelId).toBe('default');
  });

  it('new weights in the serving bundled model: registration updated, index rebuilt at start, logged', async () => {
    const before = await vectors('default');
    const previousSha = (await model('default')).manifest.weightsSha256;
    // The upgrade: another model's files in place of the bundled default's.
    for (const file of ['model.json', 'weights.bin', 'manifest.json'])
      await fs.copyFile(path.join(retrained, file), path.join(bundledDir, 'default', file));
    const newSha = JSON.parse(await fs.readFile(path.join(retrained, 'manifest.json'), 'utf8'))
      .weightsSha256 as string;
    expect(newSha).not.toBe(previousSha);

    const warn = jest.spyOn(Logger.prototype, 'warn');
    let messages: string[];
    try {
      t = await t.restart();
      messages = warn.mock.calls.map(([message]) => String(message));
    } finally {
      warn.mockRestore();
    }
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          `model default: its weights changed since it was registered (sha256 ${previousSha} -> ${newSha}`,
        ),
        expect.stringContaining(
          'model default: dropped the embeddings and index built with its previous weights',
        ),
        expect.stringContaining('model default serves searches and has new weights: re-deploying'),
      ]),
    );
    const registered = await model('default');
    expect(registered.manifest.weightsSha256).toBe(newSha);
    expect(registered).toMatchObject({ active: true, status: 'deployed', robustness: null });
    // Serving at once, from an index of the new weights' embeddings.
    const serving = t.app.get(VectorIndexService).current();
    expect(serving?.modelId).toBe('default');
    expect(serving?.index.size).toBe(ids.length);
    const after = await vectors('default');
    expect(after.size).toBe(ids.length);
    for (const id of ids) expect(after.get(id)).not.toEqual(before.get(id));
    await findsItself();
    // The same weights deployed under another name embed the gallery the same way.
    await fs.cp(retrained, path.join(t.config.dataDir, 'models', 'retrained-copy'), {
      recursive: true,
    });
    await deployAndWait(t, 'retrained-copy');
    expect(await vectors('retrained-copy')).toEqual(after);
  });

  it('refuses a malformed robustness block at registration, with a message naming the field', async () => {
    const registry = t.app.get(ModelRegistryService);
    const bad = await writeTinyModel(t.config.dataDir, 'bad-block', 4);
    await editManifest(bad, (manifest) => {
      const block = robustnessBlock(manifest.weightsSha256 as string) as unknown as {
        natural: { recallAt1: Record<string, unknown> };
        budget: string;
      };
      block.natural.recallAt1.low = 'x';
      block.budget = 'huge';
      manifest.robustness = block;
    });
    const message =
      `${path.join(bad, 'manifest.json')}: malformed robustness block: ` +
      'robustness.natural.recallAt1.low must be a number in [0, 100] (got "x"); ' +
      "robustness.budget must be 'full suite' or 'quick suite' (got \"huge\")";
    await expect(registry.registerDirectory(bad)).rejects.toThrow(message);
    const list = (await admin('/v1/models')).body.items as ModelBody[];
    expect(list.map((m) => m.id)).not.toContain('bad-block');
    const res = await admin('/v1/models/bad-block');
    expect(res.status).toBe(404);
    expect(res.body.message).toBe(
      `No model with id bad-block: its directory was not registered (${message})`,
    );

    // Figures measured on other weights are refused too.
    const other = await writeTinyModel(t.config.dataDir, 'other-weights', 5);
    await editManifest(other, (manifest) => {
      manifest.robustness = robustnessBlock('0'.repeat(64));
    });
    await expect(registry.registerDirectory(other)).rejects.toThrow(
      /robustness\.weightsSha256 must be the manifest's weightsSha256 [0-9a-f]{64} \(the figures were measured on other weights\)/,
    );
    expect((await admin('/v1/models/other-weights')).status).toBe(404);
  });
});
