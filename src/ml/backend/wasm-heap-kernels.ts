/**
 * wasm kernels written as plain loops over the wasm heap, for memory-bound ops where tfjs-backend-wasm's
 * own kernels are slow: MaxPoolGrad (its C++ rescans every window per input pixel), Sum over leading
 * axes (the bias gradient; the stock kernel first transposes the whole tensor) and Tile (batch norm's
 * gradient tiles its per-channel factors to the activation's shape; the stock kernel computes every
 * output element's source index one by one and took over half of a small CNN's training step).
 */
import * as tf from '@tensorflow/tfjs';

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapFloats(backend: HeapBackend, info: tf.TensorInfo, name: string): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`${name}: expected float32, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * Max-pool gradient with TensorFlow's semantics: each output's gradient goes to the first maximum of its
 * window in scan order (strictly greater wins), accumulated where windows overlap.
 */
function maxPoolGrad({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  if (dy.shape.join() !== [batchSize, outHeight, outWidth, channels].join()) {
    throw new Error(
      `MaxPoolGrad: expected dy [${[batchSize, outHeight, outWidth, channels].join(', ')}], got [${dy.shape.join(', ')}]`,
    );
  }
  const heap = backend as unknown as HeapBackend;
  const out = heap.makeOutput(input.shape, 'float32');
  // Views after the allocation: growing the heap detaches earlier ones.
  const x = heapFloats(heap, input, 'MaxPoolGrad input');
  const g = heapFloats(heap, dy, 'MaxPoolGrad dy');
  const dx = heapFloats(heap, out, 'MaxPoolGrad output');
  dx.fill(0);
  const best = new Float32Array(channels);
  const bestAt = new Int32Array(channels);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowStart = oh * sh - top;
      for (let ow = 0; ow < outWidth; ow++) {
        const colStart = ow * sw - left;
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let i = 0; i < fh; i++) {
          const r = rowStart + i;
          if (r < 0 || r >= inHeight) continue;
          for (let j = 0; j < fw; j++) {
            const col = colStart + j;
            if (col < 0 || col >= inWidth) continue;
            const base = ((b * inHeight + r) * inWidth + col) * channels;
            for (let c = 0; c < channels; c++) {
              const v = x[base + c];
              if (v > best[c]) {
                best[c] = v;
                bestAt[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) if (bestAt[c] >= 0) dx[bestAt[c]] += g[dyBase + c];
      }
    }
  }
  return out;
}

/** Sum over a leading run of axes (rows of a [rows, cols] view) in one pass; other sums go to the stock kernel. */
function sumKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util
      .parseAxisParam(axis, x.shape)
      .slice()
      .sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') return stock(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = tf.util.sizeFromShape(x.shape.slice(axes.length));
    const outShape = keepDims
      ? x.shape.map((d, i) => (i < axes.length ? 1 : d))
      : x.shape.slice(axes.length);
    const heap = backend as unknown as HeapBackend;
    const out = heap.makeOutput(outShape, 'float32');
    const values = heapFloats(heap, x, 'Sum input');
    const result = heapFloats(heap, out, 'Sum output');
    const acc = new Float64Array(cols);
    for (let r = 0, offset = 0; r < rows; r++, offset += cols) {
      for (let c = 0; c < cols; c++) acc[c] += values[offset + c];
    }
    result.set(acc);
    return out;
  };
}

/** Tile by copying contiguous rows of the innermost dimension (float32 and int32). */
function tileKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { reps } = attrs as unknown as { reps: number[] };
    const rank = x.shape.length;
    if (rank === 0 || reps.length !== rank || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return stock(args);
    }
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const heap = backend as unknown as HeapBackend;
    const out = heap.makeOutput(outShape, x.dtype);
    // Views after the allocation: growing the heap detaches earlier ones.
    const source = heap.typedArrayFromHeap(x) as Float32Array | Int32Array;
    const target = heap.typedArrayFromHeap(out) as Float32Array | Int32Array;
    const inStrides = tf.util.computeStrides(x.shape);
    const outStrides = tf.util.computeStrides(outShape);
    const last = rank - 1;
    const rowLength = x.shape[last];
    const copyDim = (dim: number, inOffset: number, outOffset: number): void => {
      if (dim === last) {
        const row = source.subarray(inOffset, inOffset + rowLength);
        for (let r = 0; r < reps[last]; r++) target.set(row, outOffset + r * rowLength);
        return;
      }
      const size = x.shape[dim];
      for (let r = 0; r < reps[dim]; r++) {
        for (let i = 0; i < size; i++) {
          copyDim(
            dim + 1,
            inOffset + i * inStrides[dim],
            outOffset + (r * size + i) * outStrides[dim],
          );
        }
      }
    };
    copyDim(0, 0, 0);
    return out;
  };
}

/**
 * Identity that shares the input's memory (reference counted, as Reshape does) instead of copying it.
 * The engine clones every tensor it saves for backprop; on stock wasm each clone was a full copy.
 */
function sharedIdentity({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Outputs up to this size take the loop below; larger ones the stock kernel (its same-shape path is fast). */
const BROADCAST_LOOP_LIMIT = 1 << 20;

/**
 * Equal with broadcasting as a loop over at most four axes. The stock kernel computes each output
 * element's source indices one by one (~55 ns per element): the max/min gradients of batch-hard mining
 * ([B, B] against [B, 1]) and the label mask ([B, 1] against [1, B]) took 2-3 ms of a 128-image step.
 */
function equalKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const rank = Math.max(a.shape.length, b.shape.length);
    if (
      a.shape.join() === b.shape.join() ||
      a.dtype !== b.dtype ||
      a.dtype === 'string' ||
      rank > 4
    )
      return stock(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const size = tf.util.sizeFromShape(outShape);
    if (size > BROADCAST_LOOP_LIMIT) return stock(args);
    const heap = args.backend as unknown as HeapBackend;
    const out = heap.makeOutput(outShape, 'bool');
    const result = heap.typedArrayFromHeap(out) as Uint8Array;
    const left = heap.typedArrayFromHeap(a);
    const right = heap.typedArrayFromHeap(b);
    const dims = [1, 1, 1, 1];
    outShape.forEach((d, i) => (dims[4 - outShape.length + i] = d));
    const stridesOf = (shape: number[]) => {
      const strides = [0, 0, 0, 0];
      let stride = 1;
      for (let i = shape.length - 1; i >= 0; i--) {
        if (shape[i] !== 1) strides[4 - shape.length + i] = stride;
        stride *= shape[i];
      }
      return strides;
    };
    const sa = stridesOf(a.shape);
    const sb = stridesOf(b.shape);
    let o = 0;
    for (let i0 = 0; i0 < dims[0]; i0++)
      for (let i1 = 0; i1 < dims[1]; i1++)
        for (let i2 = 0; i2 < dims[2]; i2++) {
          let ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
          let ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
          for (let i3 = 0; i3 < dims[3]; i3++, ia += sa[3], ib += sb[3])
            result[o++] = left[ia] === right[ib] ? 1 : 0;
        }
    return out;
  };
}

/** Kernel configs to register for wasm; `stock` looks up the kernel being wrapped (before replacement). */
export function heapKernelConfigs(
  stock: (name: string) => tf.KernelConfig | undefined,
): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [
    { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad },
    { kernelName: 'Identity', backendName: 'wasm', kernelFunc: sharedIdentity },
  ];
  // Keep each stock setup: it binds the wasm function the delegated path calls.
  const wrappers: Array<[string, (stock: tf.KernelFunc) => tf.KernelFunc]> = [
    ['Sum', sumKernel],
    ['Equal', equalKernel],
    ['Tile', tileKernel],
  ];
  for (const [kernelName, wrap] of wrappers) {
    const original = stock(kernelName);
    if (!original) continue;
    configs.push({
      kernelName,
      backendName: 'wasm',
      setupFunc: original.setupFunc,
      kernelFunc: wrap(original.kernelFunc),
    });
  }
  return configs;
}
