/**
 * Optional native GEMM kernels for the wasm backend. A small N-API addon (native/gemm.cc, built by
 * native/build.js with the system C++ compiler) runs im2col + a native SGEMM (oneDNN's, or OpenBLAS's)
 * directly on the wasm heap, with no copies. When the addon or the BLAS is missing, nothing is registered
 * and the pure-wasm kernels stay in place. RIR_NATIVE=0 turns it off.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD_KERNEL } from './fused-gradients';

interface NativeAddon {
  init(): string | null;
  setThreads(threads: number): void;
  gemm(heap: ArrayBuffer, ...args: number[]): void;
  im2col(heap: ArrayBuffer, ...args: number[]): void;
  col2im(heap: ArrayBuffer, ...args: number[]): void;
  biasActivation(heap: ArrayBuffer, ...args: number[]): void;
  maxPoolGrad(heap: ArrayBuffer, ...args: number[]): void;
  sumRows(heap: ArrayBuffer, ...args: number[]): void;
  reluGrad(heap: ArrayBuffer, ...args: number[]): void;
  mallocInUse(): number;
}

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array; _malloc(bytes: number): number; _free(pointer: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** Where native/build.js puts the addon: beside this file in a checkout, under src/ when running from dist/. */
const ADDON_CANDIDATES = [
  path.join(__dirname, 'native', 'build', 'rir_native.node'),
  path.resolve(
    __dirname,
    '..',
    '..',
    '..',
    '..',
    'src',
    'ml',
    'backend',
    'native',
    'build',
    'rir_native.node',
  ),
];
/**
 * Largest im2col buffer, in floats (1 MiB, about one core's L2 cache), so the GEMM reads its input while it is
 * still cached: 1.05-1.12x the images/s of a 16 MiB buffer on the reference net. Batches are processed
 * in chunks of whole images (at least one).
 */
const CHUNK_FLOATS = 1 << 18;

let addon: NativeAddon | null | undefined;
let library: string | null = null;

let unavailable = '';

/** Loads the addon and its BLAS once per thread; library null (with the reason) when unavailable. */
export function loadNativeGemm(): { library: string | null; reason?: string } {
  if (addon === undefined) {
    addon = null;
    const file = ADDON_CANDIDATES.find((candidate) => fs.existsSync(candidate));
    if (process.env.RIR_NATIVE === '0') unavailable = 'disabled by RIR_NATIVE=0';
    else if (!file) unavailable = 'not built (npm run build:native)';
    else {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const loaded = require(file) as NativeAddon;
        library = loaded.init();
        if (library) {
          // One BLAS thread per calling thread: parallelism comes from worker threads.
          loaded.setThreads(Number(process.env.RIR_NATIVE_THREADS ?? 1));
          addon = loaded;
        } else unavailable = 'no oneDNN or OpenBLAS library found';
      } catch (error) {
        unavailable = (error as Error).message.split('\n')[0];
      }
    }
  }
  return addon ? { library } : { library: null, reason: unavailable };
}

/** Bytes in use on the C heap (glibc's mallinfo2), or null without the addon or glibc: for benchmarks. */
export function nativeHeapInUse(): number | null {
  loadNativeGemm();
  const bytes = addon?.mallocInUse() ?? -1;
  return bytes >= 0 ? bytes : null;
}

/**
 * Allocates on the wasm heap. `_malloc` returns a signed 32-bit pointer, so an address past 2 GiB comes
 * back negative (tfjs's own allocator applies `>>> 0` too); 0 means the heap cannot grow any further.
 */
export function heapAlloc(
  wasm: Pick<WasmBackend['wasm'], '_malloc' | 'HEAPU8'>,
  bytes: number,
): number {
  const pointer = wasm._malloc(bytes) >>> 0;
  if (pointer === 0) {
    throw new Error(
      `wasm heap: cannot allocate ${bytes} bytes (heap at ${wasm.HEAPU8.buffer.byteLength} bytes): use a smaller batch`,
    );
  }
  return pointer;
}

const offsetOf = (backend: WasmBackend, info: tf.TensorInfo) =>
  backend.dataIdMap.get(info.dataId).memoryOffset;
const heapOf = (backend: WasmBackend) => backend.wasm.HEAPU8.buffer as ArrayBuffer;

/** C = op(A) @ op(B) (+ beta * C), row-major, offsets in bytes into the wasm heap. */
function gemm(
  b: WasmBackend,
  ta: boolean,
  tb: boolean,
  m: number,
  n: number,
  k: number,
  a: number,
  bb: number,
  c: number,
  beta = 0,
) {
  addon!.gemm(heapOf(b), +ta, +tb, m, n, k, 1, a, ta ? m : k, bb, tb ? k : n, beta, c, n);
}

/** A convolution's geometry as the addon's im2col takes it. */
type Geometry = [
  images: number,
  inHeight: number,
  inWidth: number,
  inChannels: number,
  filterHeight: number,
  filterWidth: number,
  strideHeight: number,
  strideWidth: number,
  padTop: number,
  padLeft: number,
  outHeight: number,
  outWidth: number,
];

function geometry(info: tf.backend_util.Conv2DInfo, images: number): Geometry {
  return [
    images,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ];
}

const isPointwise = (info: tf.backend_util.Conv2DInfo) =>
  info.filterHeight === 1 &&
  info.filterWidth === 1 &&
  info.strideHeight === 1 &&
  info.strideWidth === 1 &&
  info.padInfo.top + info.padInfo.left + info.padInfo.bottom + info.padInfo.right === 0;

/**
 * Runs `body(first, count, colsOffset)` over chunks of images with their im2col matrix in a scratch
 * buffer (or the input itself for a pointwise conv). Byte offsets; `x` is the NHWC input's offset.
 */
function forEachChunk(
  b: WasmBackend,
  info: tf.backend_util.Conv2DInfo,
  xOffset: number | null,
  body: (first: number, count: number, cols: number) => void,
): void {
  const perImage =
    info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels;
  const chunk = Math.max(1, Math.min(info.batchSize, Math.floor(CHUNK_FLOATS / perImage)));
  const imageBytes = info.inHeight * info.inWidth * info.inChannels * 4;
  if (xOffset !== null && isPointwise(info)) {
    body(0, info.batchSize, xOffset);
    return;
  }
  const scratch = heapAlloc(b.wasm, chunk * perImage * 4);
  try {
    for (let first = 0; first < info.batchSize; first += chunk) {
      const count = Math.min(chunk, info.batchSize - first);
      if (xOffset !== null)
        addon!.im2col(heapOf(b), xOffset + first * imageBytes, ...geometry(info, count), scratch);
      body(first, count, scratch);
    }
  } finally {
    b.wasm._free(scratch);
  }
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
  activation?: string;
}

const plain = (attrs: ConvAttrs) =>
  (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC') &&
  (attrs.dilations === undefined ||
    attrs.dilations === 1 ||
    (Array.isArray(attrs.dilations) && attrs.dilations.every((d) => d === 1)));

const conv2dInfo = (x: number[], f: number[], attrs: ConvAttrs) =>
  tf.backend_util.computeConv2DInfo(
    x as [number, number, number, number],
    f as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );

function expectShape(kernel: string, name: string, actual: number[], expected: number[]): void {
  if (actual.join() !== expected.join()) {
    throw new Error(
      `${kernel}: expected ${name} of shape [${expected.join(', ')}], got [${actual.join(', ')}]`,
    );
  }
}

function convForward(
  b: WasmBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: ConvAttrs,
  bias?: tf.TensorInfo,
  relu = false,
) {
  const info = conv2dInfo(x.shape, filter.shape, attrs);
  expectShape('Conv2D', 'filter', filter.shape, [
    info.filterHeight,
    info.filterWidth,
    x.shape[3],
    info.outChannels,
  ]);
  const out = b.makeOutput(
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    'float32',
  );
  const rowsPerImage = info.outHeight * info.outWidth;
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  const outOffset = offsetOf(b, out);
  forEachChunk(b, info, offsetOf(b, x), (first, count, cols) =>
    gemm(
      b,
      false,
      false,
      count * rowsPerImage,
      info.outChannels,
      columns,
      cols,
      offsetOf(b, filter),
      outOffset + first * rowsPerImage * info.outChannels * 4,
    ),
  );
  if (bias || relu) {
    addon!.biasActivation(
      heapOf(b),
      outOffset,
      info.batchSize * rowsPerImage,
      info.outChannels,
      bias ? offsetOf(b, bias) : -1,
      +relu,
    );
  }
  return out;
}

function convBackpropFilter(b: WasmBackend, x: tf.TensorInfo, dy: tf.TensorInfo, attrs: ConvAttrs) {
  const info = conv2dInfo(x.shape, attrs.filterShape!, attrs);
  expectShape('Conv2DBackpropFilter', 'dy', dy.shape, [
    info.batchSize,
    info.outHeight,
    info.outWidth,
    info.outChannels,
  ]);
  expectShape('Conv2DBackpropFilter', 'filter', attrs.filterShape!, [
    info.filterHeight,
    info.filterWidth,
    x.shape[3],
    info.outChannels,
  ]);
  const out = b.makeOutput(attrs.filterShape!, 'float32');
  const rowsPerImage = info.outHeight * info.outWidth;
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  forEachChunk(b, info, offsetOf(b, x), (first, count, cols) =>
    gemm(
      b,
      true,
      false,
      columns,
      info.outChannels,
      count * rowsPerImage,
      cols,
      offsetOf(b, dy) + first * rowsPerImage * info.outChannels * 4,
      offsetOf(b, out),
      first === 0 ? 0 : 1,
    ),
  );
  return out;
}

function convBackpropInput(
  b: WasmBackend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: ConvAttrs,
) {
  const info = conv2dInfo(attrs.inputShape!, filter.shape, attrs);
  expectShape('Conv2DBackpropInput', 'dy', dy.shape, [
    info.batchSize,
    info.outHeight,
    info.outWidth,
    info.outChannels,
  ]);
  expectShape('Conv2DBackpropInput', 'filter', filter.shape, [
    info.filterHeight,
    info.filterWidth,
    attrs.inputShape![3],
    info.outChannels,
  ]);
  const out = b.makeOutput(attrs.inputShape!, 'float32');
  const rowsPerImage = info.outHeight * info.outWidth;
  const columns = info.filterHeight * info.filterWidth * info.inChannels;
  const imageBytes = info.inHeight * info.inWidth * info.inChannels * 4;
  if (isPointwise(info)) {
    gemm(
      b,
      false,
      true,
      info.batchSize * rowsPerImage,
      columns,
      info.outChannels,
      offsetOf(b, dy),
      offsetOf(b, filter),
      offsetOf(b, out),
    );
    return out;
  }
  forEachChunk(b, info, null, (first, count, cols) => {
    gemm(
      b,
      false,
      true,
      count * rowsPerImage,
      columns,
      info.outChannels,
      offsetOf(b, dy) + first * rowsPerImage * info.outChannels * 4,
      offsetOf(b, filter),
      cols,
    );
    addon!.col2im(heapOf(b), cols, ...geometry(info, count), offsetOf(b, out) + first * imageBytes);
  });
  return out;
}

function maxPoolGrad(
  b: WasmBackend,
  dy: tf.TensorInfo,
  input: tf.TensorInfo,
  attrs: Record<string, unknown>,
) {
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const expected = [info.batchSize, info.outHeight, info.outWidth, info.inChannels];
  if (dy.shape.join() !== expected.join()) {
    throw new Error(
      `MaxPoolGrad: expected dy [${expected.join(', ')}], got [${dy.shape.join(', ')}]`,
    );
  }
  const out = b.makeOutput(input.shape, 'float32');
  addon!.maxPoolGrad(
    heapOf(b),
    offsetOf(b, input),
    offsetOf(b, dy),
    offsetOf(b, out),
    ...geometry(info, info.batchSize),
  );
  return out;
}

/**
 * Sum (or mean) over one contiguous run of axes as column sums of [outer, rows, cols] blocks: the bias
 * gradient (leading axes) and global average pooling (the middle, spatial axes); null for other runs.
 */
function sumContiguous(
  b: WasmBackend,
  x: tf.TensorInfo,
  attrs: Record<string, unknown>,
  mean: boolean,
) {
  const axes = tf.util
    .parseAxisParam(attrs.axis as number | number[], x.shape)
    .slice()
    .sort((p, q) => p - q);
  if (axes.length === 0 || !axes.every((a, i) => a === axes[0] + i)) return null;
  const first = axes[0];
  const last = axes[axes.length - 1];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const rows = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
  const cols = tf.util.sizeFromShape(x.shape.slice(last + 1));
  // A trailing run is a row sum, which the stock kernel already does without a transpose.
  if (cols === 1 || rows === 0) return null;
  const outShape = attrs.keepDims
    ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    : x.shape.filter((_, i) => i < first || i > last);
  const out = b.makeOutput(outShape, 'float32');
  addon!.sumRows(
    heapOf(b),
    offsetOf(b, x),
    outer,
    rows,
    cols,
    offsetOf(b, out),
    mean ? 1 / rows : 1,
  );
  return out;
}

/** Gradient of relu from its output, dy where y > 0 (RELU_GRAD_KERNEL, used by fused-gradients.ts). */
function reluGrad(b: WasmBackend, dy: tf.TensorInfo, y: tf.TensorInfo) {
  if (dy.shape.join() !== y.shape.join()) {
    throw new Error(
      `ReluGrad: dy [${dy.shape.join(', ')}] and y [${y.shape.join(', ')}] differ in shape`,
    );
  }
  const out = b.makeOutput(y.shape, 'float32');
  addon!.reluGrad(
    heapOf(b),
    offsetOf(b, dy),
    offsetOf(b, y),
    offsetOf(b, out),
    tf.util.sizeFromShape(y.shape),
  );
  return out;
}

/** Batched matmul with equal or broadcast (size-1) batch dims, one native GEMM per batch entry. */
function batchMatMul(
  b: WasmBackend,
  a: tf.TensorInfo,
  bm: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
) {
  const ra = a.shape.length;
  const rb = bm.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? bm.shape[rb - 1] : bm.shape[rb - 2];
  const n = transposeB ? bm.shape[rb - 2] : bm.shape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `BatchMatMul: inner dimensions ${k} and ${kb} of [${a.shape.join(', ')}] and [${bm.shape.join(', ')}] differ`,
    );
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = bm.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  // Only whole-batch broadcasting (one side a single matrix) or identical batch layouts map onto a flat loop.
  const strip = (shape: number[]) => shape.slice(shape.findIndex((d) => d !== 1) >>> 0).join();
  const flat = batchA === 1 || batchB === 1 || strip(outerA) === strip(outerB);
  if (!flat || (batchA !== 1 && batchA !== batch) || (batchB !== 1 && batchB !== batch))
    return null;
  const out = b.makeOutput([...outer, m, n], 'float32');
  const [aOffset, bOffset, outOffset] = [offsetOf(b, a), offsetOf(b, bm), offsetOf(b, out)];
  for (let i = 0; i < batch; i++) {
    gemm(
      b,
      transposeA,
      transposeB,
      m,
      n,
      k,
      aOffset + (batchA === 1 ? 0 : i * m * k * 4),
      bOffset + (batchB === 1 ? 0 : i * k * n * 4),
      outOffset + i * m * n * 4,
    );
  }
  return out;
}

/** Wraps `run` so unsupported attribute combinations fall through to the kernel it replaces. */
function withFallback(
  name: string,
  stock: tf.KernelConfig | undefined,
  run: (args: Parameters<tf.KernelFunc>[0], b: WasmBackend) => tf.TensorInfo | null,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    setupFunc: stock?.setupFunc,
    kernelFunc: (args) => {
      const out = run(args, args.backend as unknown as WasmBackend);
      if (out) return out;
      if (!stock) throw new Error(`${name}: no wasm kernel for these attributes`);
      return stock.kernelFunc(args);
    },
  };
}

const floats = (...infos: Array<tf.TensorInfo | undefined>) =>
  infos.every((t) => t === undefined || t.dtype === 'float32');

/** Kernel configs backed by the native GEMM, or [] when it is unavailable. */
export function nativeKernelConfigs(
  stock: (name: string) => tf.KernelConfig | undefined,
): tf.KernelConfig[] {
  if (!loadNativeGemm().library) return [];
  // A plain convolution (no dilation, NHWC) on two float32 inputs named `names`; others fall back.
  const plainConv = (
    name: string,
    names: [string, string],
    compute: (
      b: WasmBackend,
      p: tf.TensorInfo,
      q: tf.TensorInfo,
      attrs: ConvAttrs,
    ) => tf.TensorInfo,
  ) =>
    withFallback(name, stock(name), ({ inputs, attrs }, b) => {
      const [p, q] = names.map((input) => (inputs as Record<string, tf.TensorInfo>)[input]);
      const conv = attrs as unknown as ConvAttrs;
      return plain(conv) && floats(p, q) ? compute(b, p, q, conv) : null;
    });
  return [
    plainConv('Conv2D', ['x', 'filter'], convForward),
    withFallback('FusedConv2D', stock('FusedConv2D'), ({ inputs, attrs }, b) => {
      const { x, filter, bias, preluActivationWeights } = inputs as Record<
        string,
        tf.TensorInfo | undefined
      >;
      const a = attrs as unknown as ConvAttrs;
      const outChannels = filter!.shape[3];
      const simpleBias = !bias || tf.util.sizeFromShape(bias.shape) === outChannels;
      if (
        !plain(a) ||
        preluActivationWeights ||
        !simpleBias ||
        !['linear', 'relu'].includes(a.activation ?? 'linear')
      )
        return null;
      return floats(x, filter, bias)
        ? convForward(b, x!, filter!, a, bias, a.activation === 'relu')
        : null;
    }),
    plainConv('Conv2DBackpropFilter', ['x', 'dy'], convBackpropFilter),
    withFallback('MaxPoolGrad', stock('MaxPoolGrad'), ({ inputs, attrs }, b) => {
      const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      return floats(dy, input) ? maxPoolGrad(b, dy, input, attrs as Record<string, unknown>) : null;
    }),
    withFallback('Sum', stock('Sum'), ({ inputs, attrs }, b) => {
      const { x } = inputs as { x: tf.TensorInfo };
      return floats(x) ? sumContiguous(b, x, attrs as Record<string, unknown>, false) : null;
    }),
    withFallback(RELU_GRAD_KERNEL, undefined, ({ inputs }, b) => {
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      return floats(dy, y) ? reluGrad(b, dy, y) : null;
    }),
    withFallback('Mean', stock('Mean'), ({ inputs, attrs }, b) => {
      const { x } = inputs as { x: tf.TensorInfo };
      return floats(x) ? sumContiguous(b, x, attrs as Record<string, unknown>, true) : null;
    }),
    withFallback('BatchMatMul', stock('BatchMatMul'), ({ inputs, attrs }, b) => {
      const { a, b: bm } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as unknown as {
        transposeA: boolean;
        transposeB: boolean;
      };
      return floats(a, bm) ? batchMatMul(b, a, bm, transposeA, transposeB) : null;
    }),
    withFallback('Conv2DBackpropInput', stock('Conv2DBackpropInput'), ({ inputs, attrs }, b) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      return plain(attrs as unknown as ConvAttrs) && floats(dy, filter)
        ? convBackpropInput(b, dy, filter, attrs as unknown as ConvAttrs)
        : null;
    }),
  ];
}
