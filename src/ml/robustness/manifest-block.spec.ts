import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  linearEmbedder,
  prototypeImages,
  randomWeights,
} from '../../../test/support/attack-fixtures';
import { ATTACK_NAMES } from '../attacks/definitions';
import { initBackend } from '../backend';
import { createEmbeddingModel } from '../models';
import {
  loadModelVersion,
  readManifest,
  saveModel,
  updateManifest,
  validateRobustnessBlock,
  worstRecallAt1,
  type RobustnessBlock,
} from '../model-store';
import { attacksOf, budgetOf, robustnessBlockFromReport } from './manifest-block';
import { buildRobustnessReport, type RobustnessReport } from './report';

const SHA = 'a'.repeat(64);

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

/** A small but complete report: all nine attacks on a 3-class set, with or without strength checks. */
function report(attacks = [...ATTACK_NAMES], skipStrengthCheck = true): RobustnessReport {
  const shape: [number, number, number] = [2, 2, 1];
  const embedder = linearEmbedder(shape, randomWeights(4, 3, 7));
  try {
    return buildRobustnessReport(embedder, prototypeImages(shape, 3, 8, 1), {
      attacks,
      eps: 0.05,
      alpha: 0.02,
      steps: 2,
      sampleSize: 12,
      seed: 0,
      skipStrengthCheck,
      model: 'm-1 (none)',
      dataset: 'prototypes',
    });
  } finally {
    embedder.dispose();
  }
}

describe('the robustness block from a report', () => {
  it('carries natural R@1, ES:R, LTM, GTM, their worst and ERS with the report intervals, and how they were measured', () => {
    const r = report();
    const block = robustnessBlockFromReport(r, {
      data: 'prototypes',
      command: 'rir attack ...',
      weightsSha256: SHA,
    });
    const plain = (e: { value: number; low: number; high: number; n: number; method: string }) => ({
      value: e.value,
      low: e.low,
      high: e.high,
      n: e.n,
      method: e.method,
    });
    const f = r.estimates.figures;
    expect(block.natural).toEqual({
      recallAt1: plain(r.estimates.naturalRecallAt1),
      mapAtR: plain(r.estimates.mapAtR),
    });
    expect(block.adversarial).toMatchObject({
      esR: plain(f['ES:R']!),
      ltm: plain(f.LTM!),
      gtm: plain(f.GTM!),
      ers: plain(r.estimates.ers!),
    });
    const lowest = (['ES:R', 'LTM', 'GTM'] as const).reduce((a, b) =>
      f[b]!.value < f[a]!.value ? b : a,
    );
    expect(block.adversarial!.worstRecallAt1).toEqual({ ...plain(f[lowest]!), figure: lowest });
    expect(block.natural.recallAt1.n).toBe(12);
    expect(block.chance).toEqual({ recallAt1: r.chance.recallAt1 });
    expect(block.attack).toEqual({
      eps: 0.05,
      alpha: 0.02,
      steps: 2,
      restarts: 1,
      attacks: [...ATTACK_NAMES],
      sampleSize: 12,
      gallerySize: 24,
      seed: 0,
      strengthChecks: false,
    });
    expect(block).toMatchObject({
      budget: 'quick suite',
      data: 'prototypes',
      date: r.createdAt,
      command: 'rir attack ...',
      weightsSha256: SHA,
    });
  });

  it("is a 'full suite' only for all nine attacks with strength checks on at least 1,000 queries", () => {
    const checked = report([...ATTACK_NAMES], false);
    expect(budgetOf(checked)).toBe('quick suite'); // 12 queries
    const big = { ...checked, options: { ...checked.options, sampleSize: 1000 } };
    expect(budgetOf(big)).toBe('full suite');
    expect(budgetOf({ ...big, sanity: { ...big.sanity, strength: null } })).toBe('quick suite');
    const partial = report(['ES', 'GTM']);
    expect(attacksOf(partial)).toEqual(['ES', 'GTM']);
    expect(budgetOf({ ...partial, options: { ...partial.options, sampleSize: 1000 } })).toBe(
      'quick suite',
    );
    // Without LTM there is no worst of the three, and without all nine no ERS: not measured.
    const block = robustnessBlockFromReport(partial, {
      data: 'd',
      command: 'c',
      weightsSha256: SHA,
    });
    expect(block.adversarial).toMatchObject({ ltm: null, worstRecallAt1: null, ers: null });
    expect(block.adversarial!.esR).not.toBeNull();
    expect(block.attack.attacks).toEqual(['ES', 'GTM']);
  });

  it('worst-of is the lowest of ES:R, LTM and GTM, and needs all three', () => {
    const e = (value: number) => ({
      value,
      low: value,
      high: value,
      n: 5,
      method: 'wilson' as const,
    });
    expect(worstRecallAt1({ 'ES:R': e(30), LTM: e(10), GTM: e(20) })).toEqual({
      ...e(10),
      figure: 'LTM',
    });
    expect(worstRecallAt1({ 'ES:R': e(30), LTM: null, GTM: e(20) })).toBeNull();
  });
});

describe('validating a robustness block', () => {
  let valid: RobustnessBlock;
  beforeAll(() => {
    valid = robustnessBlockFromReport(report(), { data: 'd', command: 'c', weightsSha256: SHA });
  });
  /** A copy of the valid block with the field at `dotted` path set to `value` (undefined: removed). */
  const broken = (...edits: [string, unknown][]): unknown => {
    const copy = JSON.parse(JSON.stringify(valid)) as Record<string, unknown>;
    for (const [dotted, value] of edits) {
      const keys = dotted.split('.');
      const last = keys.pop()!;
      let at = copy;
      for (const key of keys) at = at[key] as Record<string, unknown>;
      if (value === undefined) delete at[last];
      else at[last] = value;
    }
    return copy;
  };

  it('accepts what the builder writes, after a JSON round trip', () => {
    expect(validateRobustnessBlock(JSON.parse(JSON.stringify(valid)), SHA)).toEqual(valid);
  });

  it.each([
    [
      'natural.recallAt1.low',
      'x',
      'robustness.natural.recallAt1.low must be a number in [0, 100] (got "x")',
    ],
    ['natural', undefined, 'robustness.natural must be an object (got nothing)'],
    ['adversarial.esR.n', 0, 'robustness.adversarial.esR.n must be an integer in [1, inf] (got 0)'],
    ['adversarial.ltm.low', 101, 'robustness.adversarial.ltm.low must be a number in [0, 100]'],
    [
      'adversarial.worstRecallAt1.figure',
      'TMA',
      'robustness.adversarial.worstRecallAt1.figure must be one of ES:R, LTM, GTM (got "TMA")',
    ],
    [
      'budget',
      'medium',
      "robustness.budget must be 'full suite' or 'quick suite' (got \"medium\")",
    ],
    ['attack.attacks', ['ES', 'XX'], 'robustness.attack.attacks must be a list of CA+'],
    ['attack.eps', 2, 'robustness.attack.eps must be a number in [0, 1] (got 2)'],
    ['date', 'yesterday', 'robustness.date must be an ISO 8601 date (got "yesterday")'],
    ['command', '', 'robustness.command must be a non-empty string (got "")'],
    ['chance', null, 'robustness.chance must be an object (got null)'],
  ])('refuses a malformed block with a message naming the field (%s)', (field, value, message) => {
    expect(() => validateRobustnessBlock(broken([field, value]), SHA, 'm/manifest.json')).toThrow(
      `m/manifest.json: malformed robustness block: ${message}`,
    );
  });

  it('refuses an interval that does not hold its value', () => {
    expect(() =>
      validateRobustnessBlock(
        broken(
          ['adversarial.gtm.value', 50],
          ['adversarial.gtm.low', 60],
          ['adversarial.gtm.high', 70],
        ),
      ),
    ).toThrow(
      'robustness.adversarial.gtm must have low <= value <= high (got {"value":50,"low":60,"high":70})',
    );
  });

  it('lists every problem, and refuses figures measured on other weights', () => {
    expect(() => validateRobustnessBlock(broken(['budget', 'x'], ['data', 3]))).toThrow(
      /robustness\.budget must be .*; robustness\.data must be a non-empty string \(got 3\)/,
    );
    expect(() => validateRobustnessBlock(valid, 'b'.repeat(64))).toThrow(
      /robustness\.weightsSha256 must be the manifest's weightsSha256 b{64} \(the figures were measured on other weights\)/,
    );
    expect(() => validateRobustnessBlock([])).toThrow('robustness must be an object (got [])');
  });
});

describe('writing the block into a manifest', () => {
  it('replaces manifest.json atomically, keeps the weights and their hash, and the version still loads', async () => {
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'block-')), 'v1');
    try {
      const model = await createEmbeddingModel({
        backbone: 'small-cnn',
        inputShape: [28, 28, 1],
        embeddingDim: 8,
        seed: 3,
      });
      const saved = await saveModel(dir, model);
      model.dispose();
      const weightsBefore = await fs.readFile(path.join(dir, 'weights.bin'));
      const block = robustnessBlockFromReport(report(), {
        data: 'd',
        command: 'c',
        weightsSha256: saved.weightsSha256,
      });
      await updateManifest(dir, { robustness: block });
      const manifest = await readManifest(dir);
      expect(manifest).toEqual({ ...saved, robustness: block });
      expect((await fs.readFile(path.join(dir, 'weights.bin'))).equals(weightsBefore)).toBe(true);
      expect((await fs.readdir(dir)).sort()).toEqual([
        'manifest.json',
        'model.json',
        'weights.bin',
      ]);
      const loaded = await loadModelVersion(dir);
      expect(loaded.manifest.robustness).toEqual(block);
      loaded.model.dispose();

      // A block of other weights is refused and the file is left as it was.
      const before = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8');
      await expect(
        updateManifest(dir, { robustness: { ...block, weightsSha256: SHA } }),
      ).rejects.toThrow(/measured on other weights/);
      expect(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);

      // A malformed block on disk makes the version unreadable, with the reason.
      const text = JSON.parse(before) as { robustness: { budget: string } };
      text.robustness.budget = 'huge';
      await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(text));
      await expect(readManifest(dir)).rejects.toThrow(
        `${path.join(dir, 'manifest.json')}: malformed robustness block: robustness.budget must be`,
      );
    } finally {
      await fs.rm(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
