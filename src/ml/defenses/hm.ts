import * as tf from '@tensorflow/tfjs';
import { rowDistances, selectRows } from '../distances';
import type { Defense, DefenseContext } from '../types';
import { gatherBatch, mineOnNatural, InnerMaximiser } from './inner';
import type { ResolvedDefenseOptions } from './options';
import { hardness, indexTensor, tripletLoss, tripletLossValue } from './triplets';

/**
 * HM (Zhou & Patel, CVPR 2022): perturb a, p and n to raise the triplet hardness H = d(a,p) - d(a,n) up
 * to a destination H_D, and no further (the hinge [H_D - H]+ has zero gradient once H_D is reached).
 * Linear gradual adversary: H_D = -min(margin, loss), with the current natural triplet loss of the mined
 * tuples standing in for the previous step's loss (it is already on the CPU; no read-back inside the tape).
 * Optional ICS term: icsWeight * [d(phi(a), phi(a~)) - d(phi(a), phi(p))]+ .
 */
export class HmDefense implements Defense {
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly inner: InnerMaximiser;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.inner = new InnerMaximiser(options);
    this.name = options.icsWeight > 0 ? 'hm-ics' : 'hm';
    this.config = {
      defense: this.name,
      ...options,
      inner: this.inner.settings,
      crafting: 'a, p, n up to the destination hardness (gradual adversary)',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    const { images, labels } = ctx.batch;
    const dim = ctx.embedder.embeddingDim;
    const { embeddings, triplets } = mineOnNatural(ctx.embedder, images, labels);
    const count = triplets.anchors.length;
    const margin = this.options.margin;
    const destination = -Math.min(margin, tripletLossValue(embeddings, dim, triplets, margin));
    const stacked = tf.tidy(
      () =>
        tf.concat([
          gatherBatch(images, triplets.anchors),
          gatherBatch(images, triplets.positives),
          gatherBatch(images, triplets.negatives),
        ]) as tf.Tensor4D,
    );
    const toDestination = (e: tf.Tensor2D): tf.Tensor => {
      const a = tf.slice(e, [0, 0], [count, -1]);
      const p = tf.slice(e, [count, 0], [count, -1]);
      const n = tf.slice(e, [2 * count, 0], [count, -1]);
      return tf.relu(tf.sub(destination, hardness(a, p, n)));
    };
    const adversarial = this.inner.perturb(ctx, stacked, toDestination, false);
    stacked.dispose();
    return [adversarial, indexTensor(triplets.anchors), indexTensor(triplets.positives)];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    const [stacked, anchorIndices, positiveIndices] = crafted;
    const count = anchorIndices.shape[0];
    const e = ctx.embedder.embed(stacked as tf.Tensor4D, true);
    const a = tf.slice(e, [0, 0], [count, -1]);
    const loss = tripletLoss(
      a,
      tf.slice(e, [count, 0], [count, -1]),
      tf.slice(e, [2 * count, 0], [count, -1]),
      this.options.margin,
    );
    if (this.options.icsWeight === 0) return loss;
    const natural = ctx.embedder.embed(ctx.batch.images, true);
    const cleanAnchors = selectRows(natural, anchorIndices as tf.Tensor1D);
    const cleanPositives = selectRows(natural, positiveIndices as tf.Tensor1D);
    const ics = tf.mean(
      tf.relu(tf.sub(rowDistances(cleanAnchors, a), rowDistances(cleanAnchors, cleanPositives))),
    );
    return tf.add(loss, tf.mul(this.options.icsWeight, ics)) as tf.Scalar;
  }
}
