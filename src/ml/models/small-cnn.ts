import * as tf from '@tensorflow/tfjs';

/**
 * The seed for a layer's initializer. tfjs's normal initializers treat a seed of 0 as "no seed" (they
 * draw from Math.random), so offsetting by one keeps `--seed 0` reproducible.
 */
export function initializerSeed(seed: number, offset: number): number {
  return seed * 1000 + offset + 1;
}

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
  const init = (offset: number) => tf.initializers.heNormal({ seed: initializerSeed(seed, offset) });
  const input = tf.input({ shape: inputShape, name: 'images' });
  let x: tf.SymbolicTensor = input;
  const filters = [32, 64, 128];
  filters.forEach((count, i) => {
    x = tf.layers
      .conv2d({
        filters: count,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: init(i),
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
  x = tf.layers.batchNormalization({ name: 'head_bn' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: embeddingDim,
      kernelInitializer: tf.initializers.glorotNormal({ seed: initializerSeed(seed, 99) }),
      name: 'embedding',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'small_cnn' });
}
