import * as tf from '@tensorflow/tfjs';
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
