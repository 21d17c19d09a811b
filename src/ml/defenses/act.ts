import * as tf from '@tensorflow/tfjs';
import { rowDistances } from '../distances';
import type { Defense, DefenseContext } from '../types';
import { gatherBatch, mineOnNatural, InnerMaximiser } from './inner';
import type { ResolvedDefenseOptions } from './options';
import { indexTensor, tripletLoss } from './triplets';

/**
 * ACT (RobRank, Zhou et al. 2021): keep the anchor clean, perturb positive and negative to collapse them
 * onto each other (minimise d(phi(p~), phi(n~))), then train L_T(a, p~, n~).
 */
export class ActDefense implements Defense {
  readonly name = 'act';
  readonly config: Record<string, unknown>;
  readonly inner: InnerMaximiser;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.inner = new InnerMaximiser(options);
    this.config = {
      defense: 'act',
      ...options,
      inner: this.inner.settings,
      crafting: 'positives and negatives, collapse d(p~, n~)',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    const { images, labels } = ctx.batch;
    const { triplets } = mineOnNatural(ctx.embedder, images, labels);
    const count = triplets.anchors.length;
    const pairs = tf.tidy(
      () =>
        tf.concat([
          gatherBatch(images, triplets.positives),
          gatherBatch(images, triplets.negatives),
        ]) as tf.Tensor4D,
    );
    const collapse = (e: tf.Tensor2D): tf.Tensor =>
      rowDistances(tf.slice(e, [0, 0], [count, -1]), tf.slice(e, [count, 0], [count, -1]));
    const adversarial = this.inner.perturb(ctx, pairs, collapse, false);
    pairs.dispose();
    return [adversarial, indexTensor(triplets.anchors)];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    const [pairs, anchorIndices] = crafted;
    const count = anchorIndices.shape[0];
    const anchors = ctx.embedder.embed(
      tf.gather(ctx.batch.images, anchorIndices) as tf.Tensor4D,
      true,
    );
    const perturbed = ctx.embedder.embed(pairs as tf.Tensor4D, true);
    return tripletLoss(
      anchors,
      tf.slice(perturbed, [0, 0], [count, -1]),
      tf.slice(perturbed, [count, 0], [count, -1]),
      this.options.margin,
    );
  }
}
