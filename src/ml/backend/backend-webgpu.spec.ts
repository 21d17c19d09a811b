import * as tf from '@tensorflow/tfjs';
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
});
