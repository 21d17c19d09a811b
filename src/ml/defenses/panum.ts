import * as tf from '@tensorflow/tfjs';
import { selectRows } from '../distances';
import type { Defense, DefenseContext } from '../types';
import { classRowsOf, gatherBatch, mineOnNatural, InnerMaximiser } from './inner';
import type { ResolvedDefenseOptions } from './options';
import { hardness, indexTensor, tripletLoss } from './triplets';

/**
 * The seed paper's formulation (docs/METHOD.md §5.2): perturb only the anchors, to maximise their
 * triplet loss against NATURAL positives and negatives (tuples mined on natural embeddings), then train on
 *   L_nat(B) + weight * L_T(phi(x_a + r_a); phi(x_p), phi(x_n)).
 */
export class PanumDefense implements Defense {
  readonly name = 'panum';
  readonly config: Record<string, unknown>;
  readonly inner: InnerMaximiser;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.inner = new InnerMaximiser(options);
    this.config = {
      defense: 'panum',
      ...options,
      inner: this.inner.settings,
      crafting: 'anchors only, natural references, hardness d(a~,p)-d(a~,n)',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    // Triplets come from the class rows only: instance-term views carry instance labels.
    const { images, labels } = classRowsOf(ctx.batch);
    try {
      return this.craftOn(ctx, images, labels);
    } finally {
      if (images !== ctx.batch.images) tf.dispose([images, labels]);
    }
  }

  private craftOn(ctx: DefenseContext, images: tf.Tensor4D, labels: tf.Tensor1D): tf.Tensor[] {
    const { embeddings, triplets } = mineOnNatural(ctx.embedder, images, labels);
    const dim = ctx.embedder.embeddingDim;
    const natural = tf.tensor2d(embeddings, [labels.shape[0], dim]);
    const positives = gatherBatch(natural, triplets.positives);
    const negatives = gatherBatch(natural, triplets.negatives);
    const anchors = gatherBatch(images, triplets.anchors);
    // The raw hardness (no hinge) so that anchors of easy triplets are pushed too: the hinge has zero gradient there.
    const adversarial = this.inner.perturb(
      ctx,
      anchors,
      (e) => tf.neg(hardness(e, positives, negatives)),
      true,
    );
    tf.dispose([natural, positives, negatives, anchors]);
    return [
      adversarial,
      indexTensor(triplets.anchors),
      indexTensor(triplets.positives),
      indexTensor(triplets.negatives),
    ];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    const [adversarial, , positives, negatives] = crafted;
    const natural = ctx.embedder.embed(ctx.batch.images, true);
    const naturalLoss = ctx.loss(natural, ctx.batch.labels);
    const anchors = ctx.embedder.embed(adversarial as tf.Tensor4D, true);
    const adversarialLoss = tripletLoss(
      anchors,
      selectRows(natural, positives as tf.Tensor1D),
      selectRows(natural, negatives as tf.Tensor1D),
      this.options.margin,
    );
    return tf.add(naturalLoss, tf.mul(this.options.weight, adversarialLoss)) as tf.Scalar;
  }
}
