import * as tf from '@tensorflow/tfjs';
import { rowDistances } from '../distances';
import type { Defense, DefenseContext } from '../types';
import { InnerMaximiser } from './inner';
import type { ResolvedDefenseOptions } from './options';

/**
 * EST (Zhou et al., ECCV 2020): perturb every image to maximise its own embedding shift
 * ||phi(x+r) - phi(x)||, then train the normal metric loss on the perturbed batch.
 */
export class EstDefense implements Defense {
  readonly name = 'est';
  readonly config: Record<string, unknown>;
  readonly inner: InnerMaximiser;

  constructor(options: ResolvedDefenseOptions) {
    this.inner = new InnerMaximiser(options);
    this.config = {
      defense: 'est',
      ...options,
      inner: this.inner.settings,
      crafting: 'every image, maximise its embedding shift',
    };
  }

  craft(ctx: DefenseContext): tf.Tensor[] {
    const { images } = ctx.batch;
    const clean = tf.tidy(() => ctx.embedder.embed(images, false));
    // The shift has zero gradient at the clean image: start at random.
    const adversarial = this.inner.perturb(
      ctx,
      images,
      (e) => tf.neg(rowDistances(e, clean)),
      true,
    );
    clean.dispose();
    return [adversarial];
  }

  objective(ctx: DefenseContext, crafted: tf.Tensor[]): tf.Scalar {
    return ctx.loss(ctx.embedder.embed(crafted[0] as tf.Tensor4D, true), ctx.batch.labels);
  }
}
