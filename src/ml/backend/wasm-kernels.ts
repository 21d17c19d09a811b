/**
 * Gradient kernels that stock tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter, both depthwise
 * backprop kernels) plus a faster Conv2DBackpropInput. Each is composed from kernels wasm runs fast
 * (XNNPACK Conv2D / DepthwiseConv2dNative, MatMul, Slice, Pad), so a CNN trains on wasm at a speed
 * close to its forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD_KERNEL } from './fused-gradients';
import { nativeKernelConfigs } from './native-kernels';
import { heapKernelConfigs } from './wasm-heap-kernels';

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Pair = [number, number];

const BACKEND = 'wasm';

function asPair(value: number | number[] | undefined, name: string): Pair {
  if (value == null) return [1, 1];
  if (typeof value === 'number') return [value, value];
  if (value.length !== 2) throw new Error(`${name} must have 2 entries, got [${value.join(', ')}]`);
  return [value[0], value[1]];
}

function assertNhwcUndilated(kernel: string, dataFormat: unknown, dilations: Pair): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${String(dataFormat)}`);
  }
  if (dilations[0] !== 1 || dilations[1] !== 1) {
    throw new Error(`${kernel} on wasm supports dilation 1 only, got [${dilations.join(', ')}]`);
  }
}

function assertRank4(kernel: string, name: string, t: tf.Tensor): tf.Tensor4D {
  if (t.rank !== 4)
    throw new Error(`${kernel}: expected ${name} of rank 4, got shape [${t.shape.join(', ')}]`);
  return t as tf.Tensor4D;
}

/**
 * dy spread back onto the input grid (zeros between strided outputs) with the border that turns the
 * input gradient into a stride-1 'valid' correlation with the 180-degree-rotated filter:
 * dx[i] = sum_k e[i + k] * w[K-1-k], e = dy dilated by the stride, left-padded by K-1-padTop.
 */
function spreadForInputGrad(
  dy: tf.Tensor4D,
  info: Conv2DInfo,
): { dy: tf.Tensor4D; pad: tf.backend_util.ExplicitPadding } {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  let spread = dy;
  const [n, oh, ow, c] = dy.shape;
  if (sh > 1 || sw > 1) {
    // Interleave zeros: [n, oh, 1, ow, 1, c] padded to [n, oh, sh, ow, sw, c] is dy dilated by the stride.
    spread = tf
      .pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ])
      .reshape([n, oh * sh, ow * sw, c]);
  }
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  let padBottom = info.inHeight + kh - 1 - padTop - spread.shape[1];
  let padRight = info.inWidth + kw - 1 - padLeft - spread.shape[2];
  if (padTop < 0 || padLeft < 0) {
    throw new Error(
      `conv input gradient: padding (${top}, ${left}) larger than filter-1 is unsupported`,
    );
  }
  if (padBottom < 0 || padRight < 0) {
    // Trailing stride zeros beyond the last useful row/column: drop them instead of padding.
    spread = tf.slice(
      spread,
      [0, 0, 0, 0],
      [n, spread.shape[1] + Math.min(0, padBottom), spread.shape[2] + Math.min(0, padRight), c],
    );
    padBottom = Math.max(0, padBottom);
    padRight = Math.max(0, padRight);
  }
  return {
    dy: spread,
    pad: [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ],
  };
}

interface ConvAttrs {
  strides: number | number[];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | number[];
  filterShape?: number[];
  inputShape?: number[];
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
  depthwise: boolean,
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    asPair(attrs.strides, 'strides'),
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
  );
}

/**
 * im2col on XNNPACK: a depthwise conv whose one-hot filter (channel multiplier KH*KW) copies filter tap k
 * of channel c into output channel c*KH*KW + k. Padding and stride are handled by the conv itself.
 * Returns the patch matrix [N*OH*OW, C*KH*KW] (channel-major columns).
 */
function patches(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor2D {
  const {
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    outHeight: oh,
    outWidth: ow,
  } = info;
  const [n, , , c] = x.shape;
  const taps = kh * kw;
  const { top, bottom, left, right } = info.padInfo;
  if (taps === 1 && sh === 1 && sw === 1 && top + bottom + left + right === 0)
    return x.reshape([n * oh * ow, c]);
  const oneHot = new Float32Array(taps * c * taps);
  for (let k = 0; k < taps; k++) for (let ch = 0; ch < c; ch++) oneHot[(k * c + ch) * taps + k] = 1;
  const filter = tf.tensor4d(oneHot, [kh, kw, c, taps]);
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const cols = tf.depthwiseConv2d(x, filter, [sh, sw], pad);
  if (cols.shape[1] !== oh || cols.shape[2] !== ow) {
    throw new Error(
      `im2col: expected ${oh}x${ow} output positions, got ${cols.shape[1]}x${cols.shape[2]}`,
    );
  }
  return cols.reshape([n * oh * ow, c * taps]);
}

/** Below this many patch columns (CI*KH*KW) an explicit im2col + GEMM beats the conv formulation. */
const IM2COL_MAX_COLUMNS = 32;

/**
 * dW[kh, kw, ci, co] = sum over n, oh, ow of x[n, oh*s + kh - pad, ow*s + kw - pad, ci] * dy[n, oh, ow, co].
 * Few input channels: patches^T @ dy (GEMM over the N*OH*OW rows). Otherwise the same sum as an XNNPACK
 * conv: input x as [CI, H, W, N], filter dy as [OH, OW, N, CO] dilated by the stride, output [CI, KH, KW, CO].
 */
function conv2DBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: ConvAttrs): tf.Tensor4D {
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs, false);
  const [kh, kw, ci, co] = filterShape;
  if (
    dy.shape[0] !== x.shape[0] ||
    dy.shape[1] !== info.outHeight ||
    dy.shape[2] !== info.outWidth ||
    dy.shape[3] !== co
  ) {
    throw new Error(
      `Conv2DBackpropFilter: expected dy of shape [${x.shape[0]}, ${info.outHeight}, ${info.outWidth}, ${co}], got [${dy.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => {
    if (ci * kh * kw <= IM2COL_MAX_COLUMNS) {
      const cols = patches(x, info); // [rows, ci*kh*kw]
      const dyRows = dy.reshape([cols.shape[0], co]);
      // wasm MatMul is fast only without transposeA: transpose the smaller operand explicitly.
      if (co <= ci * kh * kw) {
        const dwT = tf.matMul(tf.transpose(dyRows), cols); // [co, ci*kh*kw]
        return tf.transpose(dwT.reshape([co, ci, kh, kw]), [2, 3, 1, 0]) as tf.Tensor4D;
      }
      const dw = tf.matMul(tf.transpose(cols), dyRows); // [ci*kh*kw, co]
      return tf.transpose(dw.reshape([ci, kh, kw, co]), [1, 2, 0, 3]) as tf.Tensor4D;
    }
    const { top, left } = info.padInfo;
    const { strideHeight: sh, strideWidth: sw, inHeight: h, inWidth: w } = info;
    // Border so the dilated dy filter fits exactly KH x KW times; negative means trailing rows are unused.
    const bottom = kh + (info.outHeight - 1) * sh - h - top;
    const right = kw + (info.outWidth - 1) * sw - w - left;
    let input = x;
    if (bottom < 0 || right < 0) {
      input = tf.slice(
        x,
        [0, 0, 0, 0],
        [x.shape[0], h + Math.min(0, bottom), w + Math.min(0, right), ci],
      );
    }
    const xT = tf.transpose(input, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, h, w, n]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, n, co]
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [top, Math.max(0, bottom)],
      [left, Math.max(0, right)],
      [0, 0],
    ];
    const dw = tf.conv2d(xT, dyT, 1, pad, 'NHWC', [sh, sw]); // [ci, kh, kw, co]
    return tf.transpose(dw, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** dx = valid stride-1 conv of the spread dy with the rotated, in/out-swapped filter (XNNPACK Conv2D). */
function conv2DBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: ConvAttrs): tf.Tensor4D {
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs, false);
  return tf.tidy(() => {
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const spread = spreadForInputGrad(dy, info);
    return tf.conv2d(spread.dy, rotated, 1, spread.pad);
  });
}

/** Depthwise dx: the same correlation per channel; a channel multiplier M > 1 sums its M outputs. */
function depthwiseBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  attrs: ConvAttrs,
): tf.Tensor4D {
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs, true);
  const [kh, kw, c, m] = filter.shape;
  return tf.tidy(() => {
    const rotated = tf.reverse(filter, [0, 1]).reshape([kh, kw, c * m, 1]) as tf.Tensor4D;
    const spread = spreadForInputGrad(dy, info);
    const dx = tf.depthwiseConv2d(spread.dy, rotated, 1, spread.pad);
    if (m === 1) return dx;
    const [n, h, w] = dx.shape;
    return tf.sum(dx.reshape([n, h, w, c, m]), 4) as tf.Tensor4D;
  });
}

/**
 * Depthwise dW[kh, kw, c, q] = sum over rows of patch(c, tap) * dy(c*M + q); the row sum is a
 * ones-vector MatMul because wasm reduces non-trailing axes through a slow transpose.
 */
function depthwiseBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: ConvAttrs): tf.Tensor4D {
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs, true);
  const [kh, kw, c, m] = filterShape;
  return tf.tidy(() => {
    const cols = patches(x, info); // [rows, c*kh*kw]
    const rows = cols.shape[0];
    const products = tf.mul(cols.reshape([rows, c, kh * kw, 1]), dy.reshape([rows, c, 1, m]));
    const summed = tf.matMul(tf.ones([1, rows]), products.reshape([rows, c * kh * kw * m]));
    return tf.transpose(summed.reshape([c, kh, kw, m]), [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

function kernel(
  kernelName: string,
  run: (inputs: Record<string, tf.Tensor4D>, attrs: ConvAttrs) => tf.Tensor,
  backendName = BACKEND,
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    // Kernel inputs arrive as Tensors from the engine; ops run inside are not taped (kernelDepth > 0).
    kernelFunc: ({ inputs, attrs }) =>
      run(
        inputs as unknown as Record<string, tf.Tensor4D>,
        attrs as unknown as ConvAttrs,
      ) as unknown as tf.TensorInfo,
  };
}

/**
 * A gradient kernel on two rank-4 inputs, named `names` in the op: checks NHWC (when the op carries a
 * dataFormat; the depthwise ops are NHWC only) and no dilation, then computes.
 */
function gradientKernel(
  kernelName: string,
  names: [string, string],
  compute: (a: tf.Tensor4D, b: tf.Tensor4D, attrs: ConvAttrs) => tf.Tensor,
  { checkFormat = true, backendName = BACKEND } = {},
): tf.KernelConfig {
  return kernel(
    kernelName,
    (inputs, attrs) => {
      const format = checkFormat ? attrs.dataFormat : 'NHWC';
      assertNhwcUndilated(kernelName, format, asPair(attrs.dilations, 'dilations'));
      const [a, b] = names.map((name) => assertRank4(kernelName, name, inputs[name]));
      return compute(a, b, attrs);
    },
    backendName,
  );
}

/** Conv2DBackpropFilter composed from tfjs ops (im2col + one matrix product, or one transposed conv). */
function filterGradientKernel(backendName: string): tf.KernelConfig {
  return gradientKernel('Conv2DBackpropFilter', ['x', 'dy'], conv2DBackpropFilter, {
    backendName,
  });
}

/** The stock wasm kernels, recorded before the first replacement (so registering twice wraps nothing twice). */
const stockKernels = new Map<string, tf.KernelConfig | undefined>();

function stockKernel(name: string): tf.KernelConfig | undefined {
  if (!stockKernels.has(name)) stockKernels.set(name, tf.getKernel(name, BACKEND));
  return stockKernels.get(name);
}

function register(config: tf.KernelConfig): void {
  stockKernel(config.kernelName);
  if (tf.getKernel(config.kernelName, BACKEND)) tf.unregisterKernel(config.kernelName, BACKEND);
  tf.registerKernel(config);
}

/**
 * Registers the gradient kernels for wasm and returns their names. Call before tf.setBackend('wasm')
 * so setup functions run at backend initialisation. Idempotent; calling it again with another `native`
 * choice swaps the native GEMM kernels in or out (they fall back to the kernels registered below them).
 */
export function registerWasmGradientKernels(options: { native?: boolean } = {}): string[] {
  const configs: tf.KernelConfig[] = [
    filterGradientKernel(BACKEND),
    // Replaces the stock kernel, a plain loop that is ~10x slower than XNNPACK's forward conv.
    gradientKernel('Conv2DBackpropInput', ['dy', 'filter'], conv2DBackpropInput),
    gradientKernel('DepthwiseConv2dNativeBackpropInput', ['dy', 'filter'], depthwiseBackpropInput, {
      checkFormat: false,
    }),
    gradientKernel('DepthwiseConv2dNativeBackpropFilter', ['x', 'dy'], depthwiseBackpropFilter, {
      checkFormat: false,
    }),
  ];
  configs.push(...heapKernelConfigs(stockKernel));
  // Native kernels wrap the ones now registered (stock or the formulations above) as their fallback.
  for (const name of ['Conv2D', 'FusedConv2D', 'BatchMatMul', 'Mean']) {
    const stock = stockKernel(name);
    if (stock) configs.push(stock);
  }
  configs.forEach(register);
  // The one-pass ReLU gradient exists only natively; without it fused-gradients.ts composes stock ops.
  if (tf.getKernel(RELU_GRAD_KERNEL, BACKEND)) tf.unregisterKernel(RELU_GRAD_KERNEL, BACKEND);
  const native =
    (options.native ?? true) ? nativeKernelConfigs((name) => tf.getKernel(name, BACKEND)) : [];
  native.forEach(register);
  const patched = configs.filter((c) => c !== stockKernel(c.kernelName)).map((c) => c.kernelName);
  return [...new Set([...patched, ...native.map((c) => c.kernelName)])];
}

/**
 * tfjs-backend-webgpu's Conv2DBackpropFilter gives each filter weight one GPU thread that loops over the
 * whole batch: on an H200, 23 ms for the reference net's first layer (288 weights, 100k terms each) and
 * 8 ms for its second, 90% of a 57 ms training step, where the forward convs take 0.07-0.13 ms. The
 * formulation above (im2col as a one-hot depthwise conv, then one matrix product, or one conv of the
 * transposed tensors) is plain tfjs ops, which WebGPU runs as wide kernels. Returns the names replaced.
 */
export function registerWebGpuGradientKernels(): string[] {
  const backendName = 'webgpu';
  const config = filterGradientKernel(backendName);
  if (tf.getKernel(config.kernelName, backendName))
    tf.unregisterKernel(config.kernelName, backendName);
  tf.registerKernel(config);
  return [config.kernelName];
}
