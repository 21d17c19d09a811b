/**
 * The embedding worker (what search by upload, ingest and deploy embed with) on webgpu, against the cpu
 * backend: same model, same images, vectors within 1e-4. Runs where a WebGPU adapter starts (on machines
 * without a GPU, chromium's SwiftShader: test/support/webgpu.ts); a tiny model, a few images.
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { writeTinyModel } from '../../../test/search/fixtures';
import { itOnWebGpu, webGpuEnv } from '../../../test/support/webgpu';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..', '..');
const CHILD = path.join(ROOT, 'test', 'support', 'embedder-child.ts');

async function embedIn(env: NodeJS.ProcessEnv, modelDir: string, backend: string) {
  const { stdout } = await run(
    process.execPath,
    ['-r', '@swc-node/register', CHILD, modelDir, backend, '4'],
    { cwd: ROOT, env, maxBuffer: 16 << 20 },
  );
  return JSON.parse(stdout) as number[][];
}

describe('the embedding worker on webgpu', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rir-embedder-webgpu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itOnWebGpu(
    'embeds a batch as the cpu backend does (the worker reads its results back asynchronously)',
    async () => {
      const modelDir = await writeTinyModel(dir, 'tiny', 3, 12);
      const [gpu, cpu] = await Promise.all([
        embedIn(webGpuEnv(), modelDir, 'webgpu'),
        embedIn({ ...process.env }, modelDir, 'cpu'),
      ]);
      expect(gpu).toHaveLength(4);
      gpu.forEach((vector, i) => {
        expect(vector).toHaveLength(cpu[i].length);
        expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
        vector.forEach((value, d) => expect(Math.abs(value - cpu[i][d])).toBeLessThan(1e-4));
      });
    },
    180_000,
  );
});
