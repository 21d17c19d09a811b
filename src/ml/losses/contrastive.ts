import * as tf from '@tensorflow/tfjs';
import { distancesWithin } from '../distances';
import { checkBatch } from './batch';

/**
 * Contrastive loss (Hadsell et al. 2006): mean over same-class pairs of [d - posMargin]+^2 plus mean over
 * other-class pairs of [negMargin - d]+^2 (each unordered pair once).
 */
export function contrastiveLoss(options: { posMargin?: number; negMargin?: number } = {}) {
  const posMargin = options.posMargin ?? 0;
  const negMargin = options.negMargin ?? 1;
  return (embeddings: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar => {
    checkBatch(embeddings, labels);
    return tf.tidy(() => {
      const size = embeddings.shape[0];
      const distances = distancesWithin(embeddings);
      const same = tf.cast(tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)), 'float32');
      const upper = tf.linalg.bandPart(tf.sub(tf.ones([size, size]), tf.eye(size)), 0, -1);
      const positive = tf.mul(same, upper);
      const negative = tf.mul(tf.sub(1, same), upper);
      const meanOver = (mask: tf.Tensor, values: tf.Tensor) =>
        tf.div(tf.sum(tf.mul(mask, values)), tf.maximum(tf.sum(mask), 1));
      const pull = meanOver(positive, tf.square(tf.relu(tf.sub(distances, posMargin))));
      const push = meanOver(negative, tf.square(tf.relu(tf.sub(negMargin, distances))));
      return tf.add(pull, push) as tf.Scalar;
    });
  };
}
