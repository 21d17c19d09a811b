import * as tf from '@tensorflow/tfjs';
import { initBackend } from './index';
import { registerWebGpuGradientKernels } from './wasm-kernels';

describe('the webgpu backend where Dawn is not installed', () => {
  it('fails loudly, naming the missing package, instead of falling back', async () => {
    let dawnInstalled = true;
    try {
      require.resolve('webgpu');
    } catch {
      dawnInstalled = false;
    }
    if (dawnInstalled) return; // a machine with the optional packages: nothing to check here
    await expect(initBackend('webgpu')).rejects.toThrow(
      "webgpu (Dawn for Node) is not available: Cannot find module 'webgpu'",
    );
  });

  it('registers the composed filter-gradient kernel for webgpu (replacing the per-weight loop)', () => {
    expect(registerWebGpuGradientKernels()).toEqual(['Conv2DBackpropFilter']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')).toBeDefined();
    tf.unregisterKernel('Conv2DBackpropFilter', 'webgpu');
  });
});
