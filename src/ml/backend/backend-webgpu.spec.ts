import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import * as tf from '@tensorflow/tfjs';
import { itOnWebGpu, webGpuEnv } from '../../../test/support/webgpu';
import { initBackend } from './index';
import { registerWebGpuGradientKernels } from './wasm-kernels';

/** Whether the optional Dawn package is installed (then there is no missing package to report). */
function dawnInstalled(): boolean {
  try {
    require.resolve('webgpu');
    return true;
  } catch {
    return false;
  }
}

const DAWN_INSTALLED = dawnInstalled();

describe('the webgpu backend', () => {
  // Only meaningful without the optional package: where it is installed the test shows as skipped.
  (DAWN_INSTALLED ? it.skip : it)(
    `fails loudly where Dawn is not installed, naming the missing package, instead of falling back${
      DAWN_INSTALLED ? ' (skipped: the webgpu package is installed on this machine)' : ''
    }`,
    async () => {
      await expect(initBackend('webgpu')).rejects.toThrow(
        "webgpu (Dawn for Node) is not available: Cannot find module 'webgpu'",
      );
    },
  );

  it('registers the composed filter-gradient kernel for webgpu (replacing the per-weight loop)', () => {
    expect(registerWebGpuGradientKernels()).toEqual(['Conv2DBackpropFilter']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')).toBeDefined();
    tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
  });

  /**
   * Every gradient the project registers for wasm has its webgpu counterpart or needs none:
   * - Conv2DBackpropFilter: the composed filter gradient, registered for webgpu too (stock: one thread
   *   per weight looping over the batch);
   * - FusedConv2D and Relu gradients: registerGradient, backend-independent;
   * - Conv2DBackpropInput, both depthwise backprops, MaxPoolGrad, Sum, Tile, Equal, Identity: replaced on
   *   wasm for speed or because stock wasm lacks them; tfjs-backend-webgpu has its own;
   * - the native kernels (RirReluGrad, the GEMM convolutions): wasm heap only; elsewhere the ReLU
   *   gradient composes stock ops.
   * A child process runs them on webgpu and on cpu from the same inputs (test/support/webgpu-kernel-check.ts).
   */
  itOnWebGpu(
    'computes the gradient kernels, the fused Adam step, inference embeddings and replayed reads as the cpu backend does',
    async () => {
      const root = path.join(__dirname, '..', '..', '..');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['-r', '@swc-node/register', path.join(root, 'test', 'support', 'webgpu-kernel-check.ts')],
        { cwd: root, env: webGpuEnv(), maxBuffer: 16 << 20 },
      );
      const result = JSON.parse(stdout.trim().split('\n').pop() as string) as {
        backend: string;
        kernelsPatched: string[];
        errors: Record<string, number>;
        reads: {
          mined: number[];
          runs: number;
          assignedOnce: number;
          outside: string;
          hostSum: { backend: string; value: number };
          backendAfterHost: string;
        };
      };
      expect(result.backend).toBe('webgpu');
      expect(result.kernelsPatched).toEqual(['Conv2DBackpropFilter']);
      expect(Object.keys(result.errors)).toHaveLength(11);
      expect(Object.keys(result.errors)).toContain(
        'fused Adam, 6 steps (webgpu shaders vs tf.train.adam on cpu)',
      );
      for (const [name, error] of Object.entries(result.errors)) {
        expect([name, error < 1e-5]).toEqual([name, true]);
      }
      // One pending read: the unit ran twice, the second time with the values.
      expect(result.reads).toEqual({
        mined: [2.25, 0.25, 0.25, 2.25],
        runs: 2,
        assignedOnce: 1,
        outside: expect.stringContaining('synchronous read of a [3] tensor on webgpu'),
        hostSum: { backend: 'cpu', value: 6 },
        backendAfterHost: 'webgpu',
      });
    },
    300_000,
  );

  itOnWebGpu(
    'automatic selection passes over a CPU-emulated adapter (SwiftShader) to wasm; TFJS_BACKEND=webgpu forces it',
    async () => {
      const root = path.join(__dirname, '..', '..', '..');
      const script =
        "require('./src/ml/backend').initBackend(process.env.TFJS_BACKEND)" +
        '.then((info) => { console.log(info.name); process.exit(0); })';
      const pick = async (backend: string | undefined) => {
        const env = webGpuEnv();
        if (backend === undefined) delete env.TFJS_BACKEND;
        else env.TFJS_BACKEND = backend;
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ['-r', '@swc-node/register', '-e', script],
          { cwd: root, env },
        );
        return stdout.trim().split('\n').pop();
      };
      const driver = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? 'swiftshader';
      if (/swiftshader|llvmpipe|lavapipe/i.test(driver)) {
        expect(['wasm', 'tensorflow']).toContain(await pick(undefined));
      }
      expect(await pick('webgpu')).toBe('webgpu');
    },
    120_000,
  );
});
