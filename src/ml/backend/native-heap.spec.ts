import * as path from 'path';
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

describeNative('native addon arguments', () => {
  // The addon itself, as native-kernels loads it: its checks are all that stands between a bad offset
  // and a write outside the heap.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(path.join(__dirname, 'native', 'build', 'rir_native.node')) as Record<
    string,
    (...args: unknown[]) => void
  >;
  const heap = () => new ArrayBuffer(64);

  it('takes arrays that lie inside the heap', () => {
    const memory = heap();
    new Float32Array(memory).set([1, -2, 3, -4, 1, 1, 1, 1], 0);
    addon.reluGrad(memory, 16, 0, 32, 4);
    expect(Array.from(new Float32Array(memory, 32, 4))).toEqual([1, 0, 1, 0]);
  });

  it('refuses an array past the heap, a misaligned one and a missing argument, naming the function', () => {
    expect(() => addon.reluGrad(heap(), 0, 16, 56, 4)).toThrow('reluGrad: bad arguments');
    expect(() => addon.sumRows(heap(), 2, 1, 1, 1, 0, 1)).toThrow('sumRows: bad arguments');
    expect(() => addon.biasActivation(heap(), 0, 2, 2, 60, 0)).toThrow(
      'biasActivation: bad arguments',
    );
    expect(() => addon.im2col(heap(), 0, 1)).toThrow('im2col: bad arguments');
    expect(() => addon.maxPoolGrad(heap(), -4)).toThrow('maxPoolGrad: bad arguments');
  });
});
