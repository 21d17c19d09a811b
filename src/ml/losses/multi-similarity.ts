import * as tf from '@tensorflow/tfjs';
import { similaritiesWithin } from '../distances';
import { checkBatch } from './batch';
import { readValues } from '../backend/reads';

/**
 * Multi-similarity loss (Wang et al. 2019) with its pair miner, on cosine similarities S:
 * a negative is kept when S_an > min_p S_ap - epsilon, a positive when S_ap < max_n S_an + epsilon; then
 * per anchor 1/alpha log(1 + sum_P exp(-alpha (S_ap - base))) + 1/beta log(1 + sum_N exp(beta (S_an - base))),
 * averaged over anchors that have a positive and a negative.
 */
export function multiSimilarityLoss(
  options: { alpha?: number; beta?: number; base?: number; epsilon?: number } = {},
) {
  const alpha = options.alpha ?? 2;
  const beta = options.beta ?? 50;
  const base = options.base ?? 0.5;
  const epsilon = options.epsilon ?? 0.1;
  return (embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar => {
    checkBatch(embeddings, labels);
    return tf.tidy(() => {
      const similarities = similaritiesWithin(embeddings);
      const size = embeddings.shape[0];
      const { positives, negatives, anchors } = mineMultiSimilarity(
        readValues(similarities),
        readValues<Int32Array>(labels),
        size,
        epsilon,
      );
      if (anchors === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
      const positiveMask = tf.tensor2d(positives, [size, size]);
      const negativeMask = tf.tensor2d(negatives, [size, size]);
      const pull = tf.div(
        tf.log1p(
          tf.sum(tf.mul(positiveMask, tf.exp(tf.mul(tf.sub(similarities, base), -alpha))), 1),
        ),
        alpha,
      );
      const push = tf.div(
        tf.log1p(tf.sum(tf.mul(negativeMask, tf.exp(tf.mul(tf.sub(similarities, base), beta))), 1)),
        beta,
      );
      return tf.div(tf.sum(tf.add(pull, push)), anchors) as tf.Scalar;
    });
  };
}

/** The kept pairs as 0/1 masks; anchors without a kept positive and negative contribute nothing. */
export function mineMultiSimilarity(
  similarities: Float32Array,
  labels: Int32Array,
  size: number,
  epsilon: number,
): { positives: Float32Array; negatives: Float32Array; anchors: number } {
  const positives = new Float32Array(size * size);
  const negatives = new Float32Array(size * size);
  let anchors = 0;
  for (let a = 0; a < size; a++) {
    let minPositive = Infinity;
    let maxNegative = -Infinity;
    for (let j = 0; j < size; j++) {
      if (j === a) continue;
      const s = similarities[a * size + j];
      if (labels[j] === labels[a]) minPositive = Math.min(minPositive, s);
      else maxNegative = Math.max(maxNegative, s);
    }
    if (minPositive === Infinity || maxNegative === -Infinity) continue;
    let keptPositive = 0;
    let keptNegative = 0;
    for (let j = 0; j < size; j++) {
      if (j === a) continue;
      const s = similarities[a * size + j];
      if (labels[j] === labels[a]) {
        if (s < maxNegative + epsilon) {
          positives[a * size + j] = 1;
          keptPositive++;
        }
      } else if (s > minPositive - epsilon) {
        negatives[a * size + j] = 1;
        keptNegative++;
      }
    }
    if (keptPositive > 0 && keptNegative > 0) anchors++;
    else for (let j = 0; j < size; j++) positives[a * size + j] = negatives[a * size + j] = 0;
  }
  return { positives, negatives, anchors };
}
