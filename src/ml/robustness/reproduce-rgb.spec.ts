import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { METRIC_NAMES } from '../attacks/definitions';
import { initBackend } from '../backend';
import { readManifest } from '../model-store';
import { reproduceRun, type ReproduceOptions } from './reproduce';
import { budgetFor } from './reproduce-budgets';

// The RGB path of `rir reproduce` (MobileNetV2 at 32x32, eps 8/255) on the `smoke` budget: the natural
// model, then panum fine-tuned from it, each attacked with the whole suite. Numbers mean nothing here.
let dir: string;
const previousCache = process.env.RIR_DATA_CACHE;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-reproduce-rgb-'));
  process.env.RIR_DATA_CACHE = previousCache ?? path.join(dir, 'cache');
});

afterAll(async () => {
  if (previousCache === undefined) delete process.env.RIR_DATA_CACHE;
  await fs.rm(dir, { recursive: true, force: true });
});

describe('rir reproduce on iconify (smoke budget)', () => {
  it('trains the natural model and panum from it at 32x32 RGB and attacks both within eps 8/255', async () => {
    const options: ReproduceOptions = {
      datasets: ['iconify'],
      defenses: ['none', 'panum'],
      outDir: dir,
      budget: 'smoke',
      seed: 1,
    };
    const budget = budgetFor('iconify', 'smoke');
    for (const defense of ['none', 'panum']) {
      const run = await reproduceRun('iconify', defense, options);
      const manifest = await readManifest(path.join(dir, 'iconify', defense, 'model'));
      expect(manifest).toMatchObject({ backbone: 'mobilenetv2', inputShape: [32, 32, 3] });
      expect(run.report.sanity.eps).toBeCloseTo(8 / 255, 8);
      expect(run.report.sanity.maxPerturbation).toBeLessThanOrEqual(8 / 255 + 1e-6);
      expect(run.report.sanity.maxPerturbation).toBeGreaterThan(0);
      for (const name of METRIC_NAMES) expect(Number.isFinite(run.report.figures[name])).toBe(true);
      expect(run.defenseConfig).toMatchObject(
        defense === 'none' ? {} : { eps: budget.training.eps, steps: budget.training.steps },
      );
    }
    // panum continued the natural model's run (its epoch 1) for one more epoch instead of starting over.
    const state = JSON.parse(
      await fs.readFile(
        path.join(dir, 'iconify', 'panum', 'model', 'checkpoint', 'state.json'),
        'utf8',
      ),
    ) as { epoch: number; globalStep: number };
    expect(state).toMatchObject({
      epoch: budget.epochs + 1,
      globalStep: budget.epochs * budget.stepsPerEpoch + budget.fineTune!.steps,
    });
  }, 600_000);
});
