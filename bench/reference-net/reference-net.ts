/**
 * The reference benchmark net (bench/reference-net/README.md), written with tfjs ops so that it matches
 * the PyTorch baseline (torch_reference.py beside this file) layer for layer: three 3x3 'same' convs
 * (32, 64, 128 filters) with ReLU, 2x2 max-pool after the first two, global average pool, dense 128, L2
 * normalisation; batch-hard triplet loss (margin 0.2) with labels = index div 4; Adam (lr 1e-3).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBiasRelu } from '../../src/ml/backend/fused-gradients';
import { SeededRandom } from '../../src/ml/data/random';

export interface ReferenceNetOptions {
  /** Input height = width (28 or 32 in the benchmark). */
  size: number;
  channels: number;
  seed?: number;
  /** Fused conv + bias + ReLU kernels, also while training (true), or separate ops (false); same maths, kept for the lever study. */
  fused?: boolean;
}

export const REFERENCE_MARGIN = 0.2;
const FILTERS = [32, 64, 128];
const EMBEDDING_DIM = 128;

/** Parameter shapes in a fixed order: that order is the layout of flattened gradients. */
export function referenceParamShapes(channels: number): number[][] {
  const shapes: number[][] = [];
  let inChannels = channels;
  for (const filters of FILTERS) {
    shapes.push([3, 3, inChannels, filters], [filters]);
    inChannels = filters;
  }
  shapes.push([inChannels, EMBEDDING_DIM], [EMBEDDING_DIM]);
  return shapes;
}

/** PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, from a seed. */
function initialValues(shape: number[], fanIn: number, random: SeededRandom): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < values.length; i++) values[i] = (random.next() * 2 - 1) * bound;
  return values;
}

let instances = 0;

export class ReferenceNet {
  readonly params: tf.Variable[];
  readonly inputShape: [number, number, number];
  private readonly fused: boolean;

  constructor(options: ReferenceNetOptions) {
    this.inputShape = [options.size, options.size, options.channels];
    this.fused = options.fused ?? true;
    const random = new SeededRandom(options.seed ?? 0);
    const shapes = referenceParamShapes(options.channels);
    const prefix = `reference${instances++}`;
    this.params = shapes.map((shape, i) => {
      const weightShape = shapes[i - (i % 2)];
      const fanIn =
        weightShape.length === 4
          ? weightShape[0] * weightShape[1] * weightShape[2]
          : weightShape[0];
      return tf.variable(
        tf.tensor(initialValues(shape, fanIn, random), shape),
        true,
        `${prefix}/${i}`,
      );
    });
  }

  /** Images [B, H, W, C] in [0,1] to L2-normalised embeddings [B, 128]. */
  embed(images: tf.Tensor4D): tf.Tensor2D {
    const [h, w, c] = this.inputShape;
    if (
      images.rank !== 4 ||
      images.shape[1] !== h ||
      images.shape[2] !== w ||
      images.shape[3] !== c
    ) {
      throw new Error(
        `reference net: expected images [B, ${h}, ${w}, ${c}], got [${images.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      let x: tf.Tensor4D = images;
      for (let layer = 0; layer < FILTERS.length; layer++) {
        const filter = this.params[2 * layer] as tf.Tensor4D;
        const bias = this.params[2 * layer + 1] as tf.Tensor1D;
        x = this.fused
          ? conv2dBiasRelu(x, filter, bias, 1, 'same')
          : tf.relu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias) as tf.Tensor4D);
        if (layer < FILTERS.length - 1) x = tf.maxPool(x, 2, 2, 'valid');
      }
      const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
      const [weights, bias] = this.params.slice(2 * FILTERS.length) as unknown as [
        tf.Tensor2D,
        tf.Tensor1D,
      ];
      const dense = this.fused
        ? tf.fused.matMul({ a: pooled, b: weights, bias })
        : tf.add(tf.matMul(pooled, weights), bias);
      return tf.div(dense, tf.maximum(tf.norm(dense, 2, 1, true), 1e-12)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    tf.dispose(this.params);
  }
}

/** labels = index div 4: four images per class, as in the baseline. */
export function referenceLabels(batch: number): Int32Array {
  return Int32Array.from({ length: batch }, (_, i) => Math.floor(i / 4));
}

/**
 * Batch-hard triplet loss exactly as the baseline computes it: Euclidean distances, the hardest
 * positive (largest distance to a same-class, non-self sample; 0 if none) and the hardest negative
 * (smallest distance to another class), mean of [pos - neg + margin]+.
 */
export function batchHardTripletLoss(
  embeddings: tf.Tensor2D,
  labels: tf.Tensor1D,
  margin = REFERENCE_MARGIN,
): tf.Scalar {
  const [batch] = embeddings.shape;
  if (labels.rank !== 1 || labels.shape[0] !== batch) {
    throw new Error(`triplet loss: expected labels [${batch}], got [${labels.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const squaredNorms = tf.sum(tf.square(embeddings), 1);
    const squared = tf.sub(
      tf.add(squaredNorms.reshape([batch, 1]), squaredNorms.reshape([1, batch])),
      tf.mul(tf.matMul(embeddings, embeddings, false, true), 2),
    );
    // The floor keeps sqrt's gradient finite on the (masked-out) diagonal.
    const distances = tf.sqrt(tf.maximum(squared, 1e-12));
    const same = tf.cast(
      tf.equal(labels.reshape([batch, 1]), labels.reshape([1, batch])),
      'float32',
    );
    const positiveMask = tf.sub(same, tf.eye(batch));
    const hardestPositive = tf.max(tf.mul(distances, positiveMask), 1);
    const hardestNegative = tf.min(tf.add(distances, tf.mul(same, 10)), 1);
    return tf.mean(tf.relu(tf.add(tf.sub(hardestPositive, hardestNegative), margin))) as tf.Scalar;
  });
}

/** One step of the attack the benchmark times: x + eps_step * sign(grad of the loss w.r.t. x), clipped to [0,1]. */
export function pgdStep(
  net: ReferenceNet,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  stepSize = 0.01,
): tf.Tensor4D {
  return tf.tidy(() => {
    const gradient = tf.grad((x: tf.Tensor) =>
      batchHardTripletLoss(net.embed(x as tf.Tensor4D), labels),
    )(images);
    return tf.clipByValue(tf.add(images, tf.mul(tf.sign(gradient), stepSize)), 0, 1) as tf.Tensor4D;
  });
}

/** Gradients of the triplet loss w.r.t. every parameter, flattened in parameter order, plus the loss. */
export function flatGradients(
  net: ReferenceNet,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
): { loss: number; gradients: Float32Array } {
  const { value, grads } = tf.variableGrads(
    () => batchHardTripletLoss(net.embed(images), labels),
    net.params,
  );
  const flat = tf.tidy(() => tf.concat(net.params.map((p) => grads[p.name].reshape([-1]))));
  const gradients = flat.dataSync() as Float32Array;
  const loss = value.dataSync()[0];
  tf.dispose([value, flat, ...Object.values(grads)]);
  return { loss, gradients };
}

/** Splits a flat gradient vector back into tensors shaped like the parameters (caller disposes). */
export function unflatten(
  net: ReferenceNet,
  flat: Float32Array,
): Array<{ name: string; tensor: tf.Tensor }> {
  const expected = net.params.reduce((sum, p) => sum + p.size, 0);
  if (flat.length !== expected)
    throw new Error(`gradient vector: expected ${expected} values, got ${flat.length}`);
  let offset = 0;
  return net.params.map((p) => {
    const tensor = tf.tensor(flat.subarray(offset, offset + p.size), p.shape);
    offset += p.size;
    return { name: p.name, tensor };
  });
}
