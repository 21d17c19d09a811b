import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../data/random';
import { distancesWithin, rowDistances, selectRows } from '../distances';
import { checkBatch } from './batch';
import { readValues } from '../backend/reads';

export interface MarginLossOptions {
  /** Margin alpha around the boundary beta. Default 0.2. */
  alpha?: number;
  /** Initial value of the learned boundary beta. Default 1.2. */
  beta?: number;
  /** Distances are clipped to at least this before weighting (Wu et al.: 0.5). */
  cutoff?: number;
  /** Negatives at or beyond this distance have zero loss and are never sampled. Default 1.4. */
  nonzeroLossCutoff?: number;
  seed?: number;
}

/**
 * Distance-weighted sampling (Wu et al. 2017): for every positive pair (a, p), one negative drawn with
 * probability proportional to 1/q(d_an), where q(d) ~ d^(n-2) (1 - d^2/4)^((n-3)/2) is the density of
 * distances between random points on the unit sphere in n dimensions. Falls back to a uniform draw.
 */
export function distanceWeightedSampling(
  distances: Float32Array,
  labels: Int32Array,
  dim: number,
  random: SeededRandom,
  cutoff = 0.5,
  nonzeroLossCutoff = 1.4,
): { anchors: Int32Array; positives: Int32Array; negatives: Int32Array } {
  const size = labels.length;
  const anchors: number[] = [];
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let a = 0; a < size; a++) {
    const candidates: number[] = [];
    const logWeights: number[] = [];
    for (let n = 0; n < size; n++) {
      if (labels[n] === labels[a]) continue;
      const d = Math.max(distances[a * size + n], cutoff);
      candidates.push(n);
      // log(1/q(d)); points beyond the non-zero-loss cutoff get weight 0.
      logWeights.push(
        distances[a * size + n] >= nonzeroLossCutoff
          ? -Infinity
          : -(
              (dim - 2) * Math.log(d) +
              ((dim - 3) / 2) * Math.log(Math.max(1 - (d * d) / 4, 1e-8))
            ),
      );
    }
    if (candidates.length === 0) continue;
    const top = Math.max(...logWeights);
    const weights = logWeights.map((w) => (top === -Infinity ? 1 : Math.exp(w - top)));
    const total = weights.reduce((s, w) => s + w, 0);
    for (let p = 0; p < size; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      let r = random.next() * total;
      let pick = candidates.length - 1;
      for (let k = 0; k < candidates.length; k++) {
        r -= weights[k];
        if (r < 0) {
          pick = k;
          break;
        }
      }
      anchors.push(a);
      positives.push(p);
      negatives.push(candidates[pick]);
    }
  }
  return {
    anchors: Int32Array.from(anchors),
    positives: Int32Array.from(positives),
    negatives: Int32Array.from(negatives),
  };
}

/**
 * The margin loss of given pairs: sum([alpha + d_ap - beta]+) + sum([alpha - d_an + beta]+), divided by the
 * number of terms that are non-zero (at least 1).
 */
export function marginLossOfPairs(
  positiveDistances: tf.Tensor1D,
  negativeDistances: tf.Tensor1D,
  beta: tf.Tensor,
  alpha: number,
): tf.Scalar {
  return tf.tidy(() => {
    const pull = tf.relu(tf.sub(tf.add(positiveDistances, alpha), beta));
    const push = tf.relu(tf.add(tf.sub(alpha, negativeDistances), beta));
    // The count of active terms is a constant of the step: step()'s gradient is zero. Counted on the
    // device, so no value is read back in the middle of the tape.
    const active = tf.add(tf.sum(tf.step(pull)), tf.sum(tf.step(push)));
    return tf.div(tf.add(tf.sum(pull), tf.sum(push)), tf.maximum(active, 1)) as tf.Scalar;
  });
}

/** Margin loss with a learned boundary beta (a trainable variable) and distance-weighted sampling. */
export function createMarginLoss(options: MarginLossOptions = {}) {
  const alpha = options.alpha ?? 0.2;
  const cutoff = options.cutoff ?? 0.5;
  const nonzeroLossCutoff = options.nonzeroLossCutoff ?? 1.4;
  const random = new SeededRandom(options.seed ?? 0);
  const beta = tf.variable(
    tf.scalar(options.beta ?? 1.2),
    true,
    `margin_beta_${Date.now()}_${Math.random()}`,
  );
  const compute = (embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar => {
    checkBatch(embeddings, labels);
    return tf.tidy(() => {
      const distances = readValues(distancesWithin(embeddings));
      const pairs = distanceWeightedSampling(
        distances,
        readValues<Int32Array>(labels),
        embeddings.shape[1],
        random,
        cutoff,
        nonzeroLossCutoff,
      );
      if (pairs.anchors.length === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
      const gather = (indices: Int32Array) => selectRows(embeddings, indices);
      const anchors = gather(pairs.anchors);
      return marginLossOfPairs(
        rowDistances(anchors, gather(pairs.positives)),
        rowDistances(anchors, gather(pairs.negatives)),
        beta,
        alpha,
      );
    });
  };
  return { compute, beta, random };
}
