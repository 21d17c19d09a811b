/**
 * A conv + bias + ReLU that stays one kernel while gradients are taken, and a one-pass ReLU gradient.
 *
 * tfjs's `tf.fused.conv2d` falls back to separate Conv2D, Add and Relu kernels whenever a gradient is
 * being recorded with a ReLU activation, and differentiates ReLU as dy * cast(step(x)): five passes over
 * the activation per layer and step that PyTorch does not make. Here the FusedConv2D kernel itself gets a
 * gradient (tfjs registers none: its own fused op wraps the kernel in customGrad, so this does not change
 * it), computed from the kernel's output: dy where y > 0, then the two conv backprops and the bias sum.
 * The masked dy is one native pass on wasm ('RirReluGrad', native-kernels.ts) and the stock
 * composition on every other backend.
 */
import * as tf from '@tensorflow/tfjs';

export const RELU_GRAD_KERNEL = 'RirReluGrad';

/** dy where `reference` > 0, else 0: ReLU's gradient from its input or its output (the same mask). */
export function reluGradient(dy: tf.Tensor, reference: tf.Tensor): tf.Tensor {
  if (dy.shape.join() !== reference.shape.join()) {
    throw new Error(
      `relu gradient: dy [${dy.shape.join(', ')}] and activation [${reference.shape.join(', ')}] differ in shape`,
    );
  }
  if (tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) && dy.dtype === 'float32') {
    return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, y: reference }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(dy, tf.cast(tf.greater(reference, 0), 'float32')));
}

interface FusedConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

const undilated = (dilations: FusedConvAttrs['dilations']) =>
  dilations === undefined ||
  dilations === 1 ||
  (Array.isArray(dilations) && dilations.every((d) => d === 1));

/** conv2d(x, filter, stride, pad) + bias, then ReLU, as one FusedConv2D kernel with a gradient. */
export function conv2dBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  strides: number | [number, number] = 1,
  pad: 'valid' | 'same' = 'same',
): tf.Tensor4D {
  if (x.rank !== 4 || filter.rank !== 4 || x.shape[3] !== filter.shape[2]) {
    throw new Error(
      `conv2dBiasRelu: x [${x.shape.join(', ')}] and filter [${filter.shape.join(', ')}] do not match (NHWC, [h, w, in, out])`,
    );
  }
  if (bias.rank !== 1 || bias.shape[0] !== filter.shape[3]) {
    throw new Error(
      `conv2dBiasRelu: bias [${bias.shape.join(', ')}] must have one value per filter (${filter.shape[3]})`,
    );
  }
  // Its gradient must exist before a tape records it, whether or not initBackend ran in this thread.
  registerFusedGradients();
  const attrs: FusedConvAttrs = {
    strides,
    pad,
    dataFormat: 'NHWC',
    dilations: 1,
    activation: 'relu',
  };
  return tf
    .engine()
    .runKernel(
      'FusedConv2D',
      { x, filter, bias },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;
}

/** Gradient functions by input name, called only for the inputs a gradient is asked of. */
type GradientMap = Record<string, () => tf.Tensor>;

function fusedConvGradient(
  dyOrList: tf.Tensor | tf.Tensor[],
  saved: tf.Tensor[],
  attrs: tf.NamedAttrMap,
): GradientMap {
  const dy = dyOrList as tf.Tensor; // FusedConv2D has one output
  const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const a = attrs as unknown as FusedConvAttrs;
  const activation = a.activation ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') {
    throw new Error(`FusedConv2D gradient: activation '${activation}' is not supported`);
  }
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || !undilated(a.dilations)) {
    throw new Error('FusedConv2D gradient: only NHWC, undilated convolutions are supported');
  }
  const masked = activation === 'relu' ? reluGradient(dy, y) : dy;
  const convAttrs = {
    strides: a.strides,
    pad: a.pad,
    dataFormat: 'NHWC',
    dimRoundingMode: a.dimRoundingMode,
  };
  return {
    x: () =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: masked, filter }, {
        ...convAttrs,
        inputShape: x.shape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor,
    filter: () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: masked }, {
        ...convAttrs,
        filterShape: filter.shape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor,
    bias: () => tf.sum(masked, [0, 1, 2]),
  };
}

let registered = false;

/** Registers the FusedConv2D and Relu gradients (every backend; idempotent). */
export function registerFusedGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'FusedConv2D',
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: fusedConvGradient,
  });
  // Same maths as tfjs's own (dy * step(x)), one pass instead of three where the kernel exists.
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => reluGradient(dy as tf.Tensor, saved[0]) }),
  });
}
