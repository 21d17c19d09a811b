import * as tf from '@tensorflow/tfjs';
import { conv2dBiasRelu } from '../backend/fused-gradients';
import { scratchEmbeddingNetwork } from './layers';

/**
 * A small CNN for 28x28 grey images: three conv blocks (conv, batch norm, ReLU, max-pool), then batch
 * norm before the linear embedding head. Without that normalisation a fresh network maps every image to
 * nearly the same embedding and the triplet loss sits at the margin.
 */
export function buildSmallCnn(
  inputShape: [number, number, number],
  embeddingDim: number,
  seed: number,
): tf.LayersModel {
  return scratchEmbeddingNetwork('small_cnn', inputShape, embeddingDim, seed, (input, he) => {
    let x = input;
    [32, 64, 128].forEach((filters, i) => {
      x = tf.layers
        .conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          kernelInitializer: he(i),
          name: `conv${i + 1}`,
        })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers.batchNormalization({ name: `conv${i + 1}_bn` }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ name: `conv${i + 1}_relu` }).apply(x) as tf.SymbolicTensor;
      x = tf.layers
        .maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${i + 1}` })
        .apply(x) as tf.SymbolicTensor;
    });
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    return tf.layers.batchNormalization({ name: 'head_bn' }).apply(x) as tf.SymbolicTensor;
  });
}

/** The layers buildSmallCnn stacks, in order, by class. */
const SMALL_CNN_LAYERS: Array<[string, string]> = [
  ...[1, 2, 3].flatMap((i): Array<[string, string]> => [
    ['Conv2D', `conv${i}`],
    ['BatchNormalization', `conv${i}_bn`],
    ['ReLU', `conv${i}_relu`],
    ['MaxPooling2D', `pool${i}`],
  ]),
  ['Flatten', 'flatten'],
  ['BatchNormalization', 'head_bn'],
  ['Dense', 'embedding'],
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether `model` is laid out exactly as buildSmallCnn lays it out (a saved model may predate it). */
function isFoldableSmallCnn(model: tf.LayersModel): boolean {
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  if (layers.length !== SMALL_CNN_LAYERS.length) return false;
  return layers.every((layer, i) => {
    const [className, name] = SMALL_CNN_LAYERS[i];
    if (layer.getClassName() !== className || layer.name !== name) return false;
    const config = layer.getConfig();
    switch (className) {
      case 'Conv2D':
        return (
          same(config.kernelSize, [3, 3]) &&
          same(config.strides, [1, 1]) &&
          same(config.dilationRate, [1, 1]) &&
          config.padding === 'same' &&
          config.useBias === false &&
          config.activation === 'linear'
        );
      case 'BatchNormalization':
        return config.axis === -1 && config.center === true && config.scale === true;
      case 'ReLU':
        return config.maxValue == null;
      case 'MaxPooling2D':
        return (
          same(config.poolSize, [2, 2]) && same(config.strides, [2, 2]) && config.padding === 'same'
        );
      case 'Dense':
        return config.activation === 'linear' && config.useBias === true;
      default:
        return true;
    }
  });
}

/** A batch norm's inference-mode transform as y = x * factor + shift, per channel. */
function batchNormAffine(layer: tf.layers.Layer): { factor: tf.Tensor1D; shift: tf.Tensor1D } {
  const [gamma, beta, movingMean, movingVariance] = layer.getWeights() as tf.Tensor1D[];
  const epsilon = layer.getConfig().epsilon as number;
  const factor = tf.div(gamma, tf.sqrt(tf.add(movingVariance, epsilon))) as tf.Tensor1D;
  return { factor, shift: tf.sub(beta, tf.mul(movingMean, factor)) as tf.Tensor1D };
}

/**
 * The small CNN's inference-mode forward pass with every batch norm folded into its neighbour, from the
 * current weights at each call: each conv's filters scaled per output channel and given the shift as
 * bias, with the ReLU, as one FusedConv2D (its GEMM applies bias and ReLU while the output is cached),
 * and the head batch norm folded into the dense layer. Same maths as the layers (embeddings within ~1e-6):
 * the separate batch-norm and ReLU passes over the activations were half of its inference time on wasm
 * (docs/results/production-bench.md). Differentiable w.r.t. the images (attacks run in inference mode).
 * Null when the model is not laid out as buildSmallCnn builds it: the caller runs the layers.
 */
export function foldedSmallCnnForward(
  model: tf.LayersModel,
): ((images: tf.Tensor4D) => tf.Tensor2D) | null {
  if (!isFoldableSmallCnn(model)) return null;
  const layer = (name: string) => model.getLayer(name);
  return (images) =>
    tf.tidy(() => {
      let x = images;
      for (const i of [1, 2, 3]) {
        const [kernel] = layer(`conv${i}`).getWeights() as tf.Tensor4D[];
        const { factor, shift } = batchNormAffine(layer(`conv${i}_bn`));
        x = conv2dBiasRelu(x, tf.mul(kernel, factor) as tf.Tensor4D, shift, 1, 'same');
        x = tf.maxPool(x, 2, 2, 'same');
      }
      const { factor, shift } = batchNormAffine(layer('head_bn'));
      const [kernel, bias] = layer('embedding').getWeights() as [tf.Tensor2D, tf.Tensor1D];
      const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
      // BN(flat) K + b = flat (diag(factor) K) + (shift K + b)
      const foldedKernel = tf.mul(kernel, tf.reshape(factor, [-1, 1])) as tf.Tensor2D;
      const foldedBias = tf.add(bias, tf.reshape(tf.matMul(tf.reshape(shift, [1, -1]), kernel), [-1]));
      return tf.fused.matMul({ a: flat, b: foldedKernel, bias: foldedBias }) as tf.Tensor2D;
    });
}
