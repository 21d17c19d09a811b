import * as tf from '@tensorflow/tfjs';
import { initBackend } from './index';
import { heapAlloc, loadNativeGemm } from './native-kernels';
import { registerWasmGradientKernels } from './wasm-kernels';

describe('heapAlloc', () => {
  const heap = (pointer: number) => ({
    HEAPU8: new Uint8Array(8),
    _malloc: () => pointer,
  });

  it('reads a pointer past 2 GiB as unsigned (wasm returns it as a negative int32)', () => {
    expect(heapAlloc(heap(-2147483648 + 64), 16)).toBe(2147483648 + 64);
    expect(heapAlloc(heap(1024), 16)).toBe(1024);
  });

  it('says so when the heap cannot grow', () => {
    expect(() => heapAlloc(heap(0), 4096)).toThrow(
      /wasm heap: cannot allocate 4096 bytes \(heap at 8 bytes\)/,
    );
  });
});

// Training MobileNetV2 on 128 images of 64x64 grows the wasm heap past 2 GiB; the native conv's scratch
// buffer then lies above 2 GiB. This reaches that state directly (about 2.2 GB of memory for a moment).
const describeNative = loadNativeGemm().library ? describe : describe.skip;
describeNative('native conv with the wasm heap past 2 GiB', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    registerWasmGradientKernels({ native: true });
  });

  it('gives the same conv as below 2 GiB', () => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i)),
      [2, 8, 8, 3],
    );
    const f = tf.tensor4d(
      Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i)),
      [3, 3, 3, 4],
    );
    const below = tf.tidy(() => tf.conv2d(x, f, 1, 'same').dataSync());
    // 2.1 GB of filler: whatever is allocated next lies past 2 GiB.
    const filler = tf.zeros([525 * 1024 * 1024]);
    try {
      const above = tf.tidy(() => tf.conv2d(x, f, 1, 'same').dataSync());
      expect(Array.from(above)).toEqual(Array.from(below));
    } finally {
      tf.dispose([filler, x, f]);
    }
  });
});
