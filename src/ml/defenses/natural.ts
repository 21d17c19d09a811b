import * as tf from '@tensorflow/tfjs';
import type { Defense, DefenseContext } from '../types';

/** No defence: the configured metric loss on the natural batch. */
export class NaturalTraining implements Defense {
  readonly name = 'none';
  readonly config: Record<string, unknown> = { defense: 'none' };

  craft(): tf.Tensor[] {
    return [];
  }

  objective(ctx: DefenseContext): tf.Scalar {
    return ctx.loss(ctx.embedder.embed(ctx.batch.images, true), ctx.batch.labels);
  }
}
