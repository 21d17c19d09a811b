import * as tf from '@tensorflow/tfjs';
import type { Defense, DefenseContext } from '../types';
import { innerAttack } from './inner';
import type { ResolvedDefenseOptions } from './options';

/**
 * The naive port of classification adversarial training (the ablation): perturb the whole batch jointly
 * to maximise the batch metric loss (tuples re-mined on the perturbed embeddings), then train on
 *   L_nat(B) + weight * L(B~).
 */
export class NaiveDefense implements Defense {
  readonly name = 'naive';
  readonly config: Record<string, unknown>;

  constructor(private readonly options: ResolvedDefenseOptions) {
    this.config = {
      defense: 'naive',
      ...options,
      crafting: 'whole batch, joint maximisation of the batch loss',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    const { images, labels } = ctx.batch;
    return [innerAttack(ctx, images, (e) => tf.neg(ctx.loss(e, labels)), this.options, true)];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    const { images, labels } = ctx.batch;
    const naturalLoss = ctx.loss(ctx.embedder.embed(images, true), labels);
    const adversarialLoss = ctx.loss(ctx.embedder.embed(crafted[0] as tf.Tensor4D, true), labels);
    return tf.add(naturalLoss, tf.mul(this.options.weight, adversarialLoss)) as tf.Scalar;
  }
}
