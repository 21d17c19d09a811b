import * as tf from '@tensorflow/tfjs';
import { augmentBatch, isAugmenting, type AugmentationConfig } from '../data/augment';
import type { SeededRandom } from '../data/random';
import type { BatchLoss } from '../types';

/**
 * Self-supervised instance discrimination beside the class loss (as in DiVA, Milbich et al. 2020):
 * two augmented views of the same training image form a positive pair, every other image a negative.
 * The class loss alone only keeps what separates the training classes; this term keeps features that
 * tell individual images apart, which is what retrieval of unseen classes needs.
 */
export interface InstanceTermConfig {
  /** Weight of the instance loss against the class loss. */
  weight: number;
  /** Images per batch that get two views (each view is one more forward/backward image). */
  instances: number;
}

/** Rejects settings that cannot work, before any data is loaded. */
export function validateInstanceTerm(
  term: InstanceTermConfig,
  batchSize: number,
  augmentation: AugmentationConfig | undefined,
): void {
  if (!(Number.isFinite(term.weight) && term.weight > 0)) {
    throw new Error(`instance weight must be a number > 0 (got ${term.weight})`);
  }
  if (!Number.isInteger(term.instances) || term.instances < 2 || term.instances > batchSize) {
    throw new Error(
      `instances must be an integer in [2, batch size ${batchSize}] (got ${term.instances})`,
    );
  }
  if (!augmentation || !isAugmenting(augmentation)) {
    throw new Error(
      'the instance term needs augmentation (two views of an image must differ): add --aug-shift, --aug-rotation, --aug-scale or --aug-elastic',
    );
  }
}

/**
 * Two augmented views of `instances` images drawn (without replacement) from a batch of NHWC images:
 * pixels of all first views, then all second views; labels 0..instances-1 twice in the same order.
 */
export function instanceViews(
  batchImages: Float32Array,
  shape: [number, number, number],
  instances: number,
  augmentation: AugmentationConfig,
  random: SeededRandom,
): { pixels: Float32Array; labels: Int32Array } {
  const size = shape[0] * shape[1] * shape[2];
  const count = batchImages.length / size;
  if (instances > count) {
    throw new Error(`cannot take ${instances} instances from a batch of ${count} images`);
  }
  const order = random.shuffle(Int32Array.from({ length: count }, (_, i) => i));
  const chosen = new Float32Array(instances * size);
  for (let i = 0; i < instances; i++) {
    chosen.set(batchImages.subarray(order[i] * size, (order[i] + 1) * size), i * size);
  }
  const pixels = new Float32Array(2 * instances * size);
  pixels.set(augmentBatch(chosen, shape, augmentation, random), 0);
  pixels.set(augmentBatch(chosen, shape, augmentation, random), instances * size);
  const labels = new Int32Array(2 * instances);
  for (let i = 0; i < instances; i++) labels[i] = labels[instances + i] = i;
  return { pixels, labels };
}

/**
 * The class loss over the leading rows plus `weight` times the same loss over the last
 * 2 * `instances` rows (the views, labelled by instance). Rows are split by position, so the class
 * labels and instance labels never meet in one loss.
 */
export function withInstanceTerm(loss: BatchLoss, term: InstanceTermConfig): BatchLoss {
  const viewRows = 2 * term.instances;
  return (embeddings, labels) =>
    tf.tidy(() => {
      const rows = embeddings.shape[0];
      const classRows = rows - viewRows;
      if (classRows < 2 || labels.shape[0] !== rows) {
        throw new Error(
          `instance term: expected at least 2 class rows before ${viewRows} view rows (got ${rows} rows, ${labels.shape[0]} labels)`,
        );
      }
      const classLoss = loss(embeddings.slice([0, 0], [classRows, -1]), labels.slice(0, classRows));
      const instanceLoss = loss(
        embeddings.slice([classRows, 0], [viewRows, -1]),
        labels.slice(classRows, viewRows),
      );
      return classLoss.add(instanceLoss.mul(term.weight)) as tf.Scalar;
    });
}
