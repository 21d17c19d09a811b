/**
 * A training job (training, then its quick attack suite) and a security probe with TFJS_BACKEND=webgpu,
 * each through its worker thread as the service starts it (test/support/webgpu-jobs-check.ts, in a child
 * process so that the Vulkan loader sees the environment). Where no GPU is present, chromium's
 * SwiftShader runs it: tiny sizes only.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { itOnWebGpu, webGpuEnv } from '../../test/support/webgpu';

interface Estimate {
  value: number;
  low: number;
  high: number;
  n: number;
}

interface JobsCheck {
  backend: string;
  job: {
    metrics: { recallAt1: number; count: number };
    robustness: { samples: number; estimates: Record<string, Estimate> };
    robustCheck: Array<Record<string, number> | null>;
  };
  probe: {
    clean: { recallAt1: number };
    figures: Record<string, number>;
    curve: Array<{ eps: number; recallAt1: number | null }>;
    candidates: number | null;
    examples: number;
    maxPerturbation: number;
  };
}

describe('training jobs and probes on webgpu', () => {
  itOnWebGpu(
    'a training job (fast panum) trains, checks for overfitting and runs its quick suite, and a probe attacks its model, all reading back asynchronously',
    async () => {
      const root = path.join(__dirname, '..', '..');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '-r',
          '@swc-node/register',
          path.join(root, 'test', 'support', 'webgpu-jobs-check.ts'),
          'webgpu',
        ],
        { cwd: root, env: webGpuEnv(), maxBuffer: 16 << 20 },
      );
      const result = JSON.parse(stdout.trim().split('\n').pop() as string) as JobsCheck;
      expect(result.backend).toBe('webgpu');
      expect(result.job.metrics.count).toBe(16);
      expect(result.job.metrics.recallAt1).toBeGreaterThanOrEqual(0);
      expect(result.job.metrics.recallAt1).toBeLessThanOrEqual(1);
      expect(result.job.robustness.samples).toBe(6);
      // The fast inner maximisation's end-of-epoch check attacked on webgpu too.
      expect(result.job.robustCheck).toHaveLength(1);
      expect(result.job.robustCheck[0]).toMatchObject({ eps: 0.3, pgdSteps: 10 });
      expect(result.job.robustCheck[0]?.queries).toBeGreaterThan(0);
      for (const name of ['naturalRecallAt1', 'recallAt1UnderAttack', 'embeddingShift']) {
        const e = result.job.robustness.estimates[name];
        expect([name, e.n, e.low <= e.value && e.value <= e.high]).toEqual([name, 6, true]);
      }
      expect(Object.keys(result.probe.figures).sort()).toEqual(['CA+', 'ES:D', 'ES:R']);
      Object.values(result.probe.figures).forEach((v) => expect(Number.isFinite(v)).toBe(true));
      expect(result.probe.curve.map((p) => p.eps)).toEqual([0.1, 0.3]);
      expect(result.probe.candidates).toBe(4);
      expect(result.probe.examples).toBe(1);
      expect(result.probe.maxPerturbation).toBeLessThanOrEqual(0.3 + 1e-6);
      expect(result.probe.maxPerturbation).toBeGreaterThan(0);
    },
    2_400_000,
  );
});
