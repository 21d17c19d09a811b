import * as tf from '@tensorflow/tfjs';

/**
 * The seed for a layer's initializer. tfjs's normal initializers treat a seed of 0 as "no seed" (they
 * draw from Math.random), so offsetting by one keeps `--seed 0` reproducible.
 */
export function initializerSeed(seed: number, offset: number): number {
  return seed * 1000 + offset + 1;
}

/** A seeded He normal initialiser (the ones before ReLUs), the offset telling the layers apart. */
export type HeNormalFor = (offset: number) => ReturnType<typeof tf.initializers.heNormal>;

/**
 * The linear embedding head: a dense layer named `embedding` with a seeded Glorot normal initialiser.
 * `offset` tells its seed apart from the layers below (saved weights name the layer, so keep the name).
 */
export function embeddingHead(
  x: tf.SymbolicTensor,
  embeddingDim: number,
  seed: number,
  offset: number,
): tf.SymbolicTensor {
  return tf.layers
    .dense({
      units: embeddingDim,
      kernelInitializer: tf.initializers.glorotNormal({ seed: initializerSeed(seed, offset) }),
      name: 'embedding',
    })
    .apply(x) as tf.SymbolicTensor;
}

/**
 * A network trained from scratch: an `images` input, the layers `body` stacks on it (He normal
 * initialisers seeded from `seed`), then the embedding head.
 */
export function scratchEmbeddingNetwork(
  name: string,
  inputShape: [number, number, number],
  embeddingDim: number,
  seed: number,
  body: (input: tf.SymbolicTensor, he: HeNormalFor) => tf.SymbolicTensor,
): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'images' });
  const he: HeNormalFor = (offset) =>
    tf.initializers.heNormal({ seed: initializerSeed(seed, offset) });
  const output = embeddingHead(body(input, he), embeddingDim, seed, 99);
  return tf.model({ inputs: input, outputs: output, name });
}
