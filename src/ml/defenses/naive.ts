import * as tf from '@tensorflow/tfjs';
import type { Defense, DefenseContext } from '../types';
import { InnerMaximiser } from './inner';
import type { ResolvedDefenseOptions } from './options';

/**
 * The naive port of classification adversarial training (the ablation): perturb the whole batch jointly
 * to maximise the batch metric loss (tuples re-mined on the perturbed embeddings), then train on
 *   L_nat(B) + weight * L(B~).
 */
export class NaiveDefense implements Defense {
  readonly name = 'naive';
  readonly config: Record<string, unknown>;
  readonly inner: InnerMaximiser;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.inner = new InnerMaximiser(options);
    this.config = {
      defense: 'naive',
      ...options,
      inner: this.inner.settings,
      crafting: 'whole batch, joint maximisation of the batch loss',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    const { images, labels } = ctx.batch;
    return [this.inner.perturb(ctx, images, (e) => tf.neg(ctx.loss(e, labels)), true)];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    const { images, labels } = ctx.batch;
    const naturalLoss = ctx.loss(ctx.embedder.embed(images, true), labels);
    const adversarialLoss = ctx.loss(ctx.embedder.embed(crafted[0] as tf.Tensor4D, true), labels);
    return tf.add(naturalLoss, tf.mul(this.options.weight, adversarialLoss)) as tf.Scalar;
  }
}
