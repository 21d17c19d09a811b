import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../backend';
import { reproduceRun, type ReproduceOptions } from './reproduce';

// What a fresh clone has of a finished reproduction: report.json and run.json per run, no weights.
let dir: string;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-reproduce-reuse-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

describe('rir reproduce on committed results (mnist, smoke budget)', () => {
  const options = (): ReproduceOptions => ({
    datasets: ['mnist'],
    defenses: ['none', 'panum'],
    outDir: dir,
    budget: 'smoke',
    seed: 2,
  });

  it('reuses finished runs without their weights, and retrains the natural model a new defence needs', async () => {
    const none = await reproduceRun('mnist', 'none', options());
    const panum = await reproduceRun('mnist', 'panum', options());
    for (const defense of ['none', 'panum']) {
      const summary = JSON.parse(
        await fs.readFile(path.join(dir, 'mnist', defense, 'run.json'), 'utf8'),
      ) as Record<string, unknown>;
      expect(summary.trainingSeconds).toBeGreaterThan(0);
      expect(typeof summary.trainedAt).toBe('string');
    }

    // Only the committed files remain.
    for (const defense of ['none', 'panum'])
      await fs.rm(path.join(dir, 'mnist', defense, 'model'), { recursive: true });
    const lines: string[] = [];
    const reused = await reproduceRun('mnist', 'panum', {
      ...options(),
      log: (l) => lines.push(l),
    });
    expect(reused).toEqual(panum);
    expect(reused.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lines.join('\n')).toContain('finished earlier');
    expect(await exists(path.join(dir, 'mnist', 'panum', 'model'))).toBe(false);

    // A defence not run yet fine-tunes the natural model: its checkpoint is trained again first.
    const est = await reproduceRun('mnist', 'est', { ...options(), log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain("needs the natural model's checkpoint");
    // Training is seeded: the natural model comes back bit-identical to the committed run's.
    expect(lines.join('\n')).toContain('weights identical to');
    expect(await exists(path.join(dir, 'mnist', 'none', 'model', 'manifest.json'))).toBe(true);
    expect(est.defenseConfig).toMatchObject({ eps: 0.3 });
    // The natural run itself is still the committed one.
    expect((await reproduceRun('mnist', 'none', options())).report).toEqual(none.report);
  }, 600_000);

  it('finishes an interrupted natural run before fine-tuning from it, never seeding from its checkpoint', async () => {
    const outDir = path.join(dir, 'interrupted');
    const opts = { ...options(), outDir };
    await reproduceRun('mnist', 'none', opts);
    // What a natural run killed before its end leaves: a checkpoint, no manifest, no report.
    const naturalDir = path.join(outDir, 'mnist', 'none');
    await fs.rm(path.join(naturalDir, 'model', 'manifest.json'));
    await fs.rm(path.join(naturalDir, 'report.json'));
    await fs.rm(path.join(naturalDir, 'run.json'));
    const lines: string[] = [];
    await reproduceRun('mnist', 'est', { ...opts, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain("needs the natural model's checkpoint: training it first");
    expect(await exists(path.join(naturalDir, 'model', 'manifest.json'))).toBe(true);
    const seeded = JSON.parse(
      await fs.readFile(
        path.join(outDir, 'mnist', 'est', 'model', 'checkpoint', 'state.json'),
        'utf8',
      ),
    ) as { epoch: number; config: { defense: string } };
    expect(seeded.config.defense).toBe('est');
    expect(seeded.epoch).toBe(2); // the natural schedule's 1 epoch, then the fine-tuning epoch
  }, 600_000);
});
