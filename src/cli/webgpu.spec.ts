/**
 * `rir train` (natural and robust: panum) and `rir attack` with TFJS_BACKEND=webgpu, each checked against
 * the cpu backend on the same seed and data. Runs where a WebGPU adapter starts: on machines without a GPU, chromium's
 * SwiftShader (test/support/webgpu.ts). SwiftShader emulates the GPU on the CPU: tiny runs only.
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { itOnWebGpu, webGpuEnv } from '../../test/support/webgpu';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

interface TrainJson {
  history: Array<{ loss: number }>;
  metrics: { recallAt1: number; meanPairwiseDistance: number };
  manifest: { training?: unknown };
}

/** Two steps of 8 MNIST images (2 classes x 4), validation on 8, then the evaluation of 16 test images. */
async function rir<T>(env: NodeJS.ProcessEnv, args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'rir'), ...args], {
    cwd: ROOT,
    env,
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout) as T;
}

async function train(env: NodeJS.ProcessEnv, out: string, extra: string[]): Promise<TrainJson> {
  return rir<TrainJson>(env, [
    ...[
      'train',
      '--dataset',
      'mnist',
      '--max-train',
      '40',
      '--max-test',
      '16',
      '--max-validation',
      '8',
    ],
    ...['--steps-per-epoch', '2', '--epochs', '1', '--batch-size', '8', '--per-class', '4'],
    ...['--embedding-dim', '16', '--seed', '3', '--out', out, '--json', ...extra],
  ]);
}

interface AttackJson {
  runs: Array<{ attack: string; objectiveBefore: number; objectiveAfter: number; samples: number }>;
  sanity: { maxPerturbation: number; withinEps: boolean };
}

const cpuEnv = { ...process.env, TFJS_BACKEND: 'cpu' };

describe('rir train and rir attack on webgpu', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rir-train-webgpu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Relative difference allowed in the epoch loss and the embeddings' spread. */
  const cases: Array<[string, string[], number]> = [
    // The first Adam step moves each weight by about lr * sign(gradient): the backends' float
    // differences stay small, but not bit-equal.
    ['natural (triplet, batch-hard mining inside the tape)', [], 1e-3],
    // PGD steps follow the sign of the input gradient: a pixel whose gradient is within float error
    // of zero steps the other way on one backend, so the crafted anchors (and the loss) differ more.
    [
      'robust (panum, 2 PGD steps on the anchors)',
      ['--defense', 'panum', '--pgd-steps', '2'],
      2e-2,
    ],
  ];
  const near = (actual: number, expected: number, relative: number) =>
    expect([actual, Math.abs(actual - expected) / Math.abs(expected) < relative]).toEqual([
      actual,
      true,
    ]);
  for (const [name, extra, relative] of cases) {
    itOnWebGpu(
      `${name}: the epoch loss and test metrics match the cpu backend's`,
      async () => {
        const tag = extra.length ? 'robust' : 'natural';
        const onCpu = await train(cpuEnv, path.join(dir, `${tag}-cpu`), extra);
        const onGpu = await train(webGpuEnv(), path.join(dir, `${tag}-webgpu`), extra);
        expect(onGpu.history).toHaveLength(1);
        near(onGpu.history[0].loss, onCpu.history[0].loss, relative);
        near(onGpu.metrics.meanPairwiseDistance, onCpu.metrics.meanPairwiseDistance, relative);
        // Natural: the same rankings. Robust: of the 16 test images (about 15 queries with a
        // positive), a near tie may flip one query's nearest neighbour.
        expect(Math.abs(onGpu.metrics.recallAt1 - onCpu.metrics.recallAt1)).toBeLessThanOrEqual(
          relative < 1e-2 ? 1e-6 : 0.1,
        );
      },
      600_000,
    );
  }

  itOnWebGpu(
    'attack: 2 PGD steps of ES on 4 queries match the cpu backend (objective, perturbation)',
    async () => {
      // The cpu backend trains the model the attacks share (the natural case may have been skipped).
      const model = path.join(dir, 'attacked');
      await train(cpuEnv, model, []);
      const args = [
        ...['attack', '--model', model, '--dataset', 'mnist', '--attacks', 'ES'],
        ...['--eps', '0.1', '--alpha', '0.02', '--steps', '2', '--sample', '4', '--gallery', '16'],
        ...['--no-strength-check', '--json'],
      ];
      const onCpu = await rir<AttackJson>(cpuEnv, args);
      const onGpu = await rir<AttackJson>(webGpuEnv(), args);
      expect(onGpu.runs.map((r) => [r.attack, r.samples])).toEqual([['ES', 4]]);
      expect(onGpu.sanity.withinEps).toBe(true);
      expect(onGpu.sanity.maxPerturbation).toBeCloseTo(onCpu.sanity.maxPerturbation, 4);
      expect(onGpu.runs[0].objectiveBefore).toBeCloseTo(onCpu.runs[0].objectiveBefore, 4);
      expect(onGpu.runs[0].objectiveAfter).toBeCloseTo(onCpu.runs[0].objectiveAfter, 2);
    },
    600_000,
  );
});
