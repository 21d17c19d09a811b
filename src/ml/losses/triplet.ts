import * as tf from '@tensorflow/tfjs';
import { distancesWithin, rowDistances, selectRows } from '../distances';
import { checkBatch, readMatrix } from './batch';
import { mineAllTriplets, mineBatchHard, mineSemiHard, type Triplets } from './miners';
import { readValues } from '../backend/reads';

export type TripletMining = 'batch-hard' | 'semi-hard' | 'all';

/** mean over triplets of [d(a,p) - d(a,n) + margin]+, with the three embeddings given explicitly ([T, D] each). */
export function tripletMarginLoss(
  anchors: tf.Tensor2D,
  positives: tf.Tensor2D,
  negatives: tf.Tensor2D,
  margin = 0.2,
): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(
      tf.relu(
        tf.add(tf.sub(rowDistances(anchors, positives), rowDistances(anchors, negatives)), margin),
      ),
    ),
  );
}

/** Picks triplets by the chosen rule from the (natural) embeddings' distances. */
export function mineTriplets(
  distances: tf.Tensor2D,
  labels: Int32Array,
  mining: TripletMining,
): Triplets {
  if (mining === 'all') return mineAllTriplets(labels);
  const values = readMatrix(distances);
  return mining === 'batch-hard' ? mineBatchHard(values, labels) : mineSemiHard(values, labels);
}

/** The loss of mined triplets, gathered from one batch of embeddings. */
export function tripletLossOf(
  embeddings: tf.Tensor2D,
  triplets: Triplets,
  margin: number,
): tf.Scalar {
  return tf.tidy(() => {
    if (triplets.anchors.length === 0) return tf.mul(tf.sum(embeddings), 0) as tf.Scalar; // no tuple: zero, still connected
    const gather = (indices: Int32Array) => selectRows(embeddings, indices);
    return tripletMarginLoss(
      gather(triplets.anchors),
      gather(triplets.positives),
      gather(triplets.negatives),
      margin,
    );
  });
}

/** Triplet loss with in-batch mining (batch-hard by default). */
export function tripletLoss(options: { margin?: number; mining?: TripletMining } = {}) {
  const margin = options.margin ?? 0.2;
  const mining = options.mining ?? 'batch-hard';
  return (embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar => {
    checkBatch(embeddings, labels);
    return tf.tidy(() => {
      const triplets = mineTriplets(
        distancesWithin(embeddings),
        readValues<Int32Array>(labels),
        mining,
      );
      return tripletLossOf(embeddings, triplets, margin);
    });
  };
}
