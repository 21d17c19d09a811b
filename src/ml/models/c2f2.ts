import * as tf from '@tensorflow/tfjs';
import { scratchEmbeddingNetwork } from './layers';

/** Width of C2F2's hidden dense layer (RobRank's and AdvRank's MNIST networks). */
export const C2F2_HIDDEN_UNITS = 1024;

/**
 * C2F2, the MNIST network of RobRank (Zhou et al., "Adversarial Attack and Defense in Deep Ranking") and of
 * its predecessor AdvRank (ECCV 2020): two convolutional and two fully connected layers, no normalisation.
 *
 *   conv 5x5, 32 channels, 'same' padding, ReLU, max-pool 2
 *   conv 5x5, 64 channels, 'same' padding, ReLU, max-pool 2
 *   flatten (7 x 7 x 64 at 28x28), dense 1024, ReLU, dense to the embedding
 *
 * The published runs embed in 512 dimensions and L2-normalise (their `ptripletN` loss); EmbeddingModel
 * does the normalisation. Initialisers: He normal before ReLUs, Glorot normal for the head, seeded as the
 * small CNN's are (the published code keeps PyTorch's default uniform initialisation).
 */
export function buildC2f2(
  inputShape: [number, number, number],
  embeddingDim: number,
  seed: number,
): tf.LayersModel {
  return scratchEmbeddingNetwork('c2f2', inputShape, embeddingDim, seed, (input, he) => {
    let x = input;
    [32, 64].forEach((filters, i) => {
      x = tf.layers
        .conv2d({
          filters,
          kernelSize: 5,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: he(i),
          name: `conv${i + 1}`,
        })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers
        .maxPooling2d({ poolSize: 2, strides: 2, name: `pool${i + 1}` })
        .apply(x) as tf.SymbolicTensor;
    });
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    return tf.layers
      .dense({ units: C2F2_HIDDEN_UNITS, activation: 'relu', kernelInitializer: he(2), name: 'fc1' })
      .apply(x) as tf.SymbolicTensor;
  });
}
