import type * as tf from '@tensorflow/tfjs';
import type { SeededRandom } from '../data/random';
import type { BatchLoss } from '../types';
import { contrastiveLoss } from './contrastive';
import { createMarginLoss } from './margin';
import { multiSimilarityLoss } from './multi-similarity';
import { tripletLoss, type TripletMining } from './triplet';

export { checkBatch } from './batch';
export { mineBatchHard, mineSemiHard, mineAllTriplets, type Triplets } from './miners';
export {
  tripletLoss,
  tripletMarginLoss,
  tripletLossOf,
  mineTriplets,
  type TripletMining,
} from './triplet';
export { contrastiveLoss } from './contrastive';
export { createMarginLoss, marginLossOfPairs, distanceWeightedSampling } from './margin';
export { multiSimilarityLoss, mineMultiSimilarity } from './multi-similarity';

export const LOSS_NAMES = [
  'triplet',
  'triplet-semihard',
  'contrastive',
  'margin',
  'multi-similarity',
] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** The numeric options a run may set for each loss (createLoss gives their defaults). */
export const LOSS_OPTIONS: Record<LossName, readonly string[]> = {
  triplet: ['margin'],
  'triplet-semihard': ['margin'],
  contrastive: ['posMargin', 'negMargin'],
  margin: ['alpha', 'beta', 'cutoff', 'nonzeroLossCutoff'],
  'multi-similarity': ['alpha', 'beta', 'base', 'epsilon'],
};

/** Throws naming the loss's options when `options` sets one it does not read, or a value that is not a number. */
export function checkLossOptions(name: string, options: Record<string, number>): void {
  const known = LOSS_OPTIONS[name as LossName] ?? [];
  for (const [key, value] of Object.entries(options)) {
    if (!known.includes(key))
      throw new Error(`${name} has no option '${key}' (known: ${known.join(', ')})`);
    if (!Number.isFinite(value))
      throw new Error(`loss option ${key} must be a finite number (got ${value})`);
  }
}

/** A configured metric loss: the batch function, its own trainable variables (margin's beta) and its config. */
export interface MetricLoss {
  name: LossName;
  config: Record<string, number | string>;
  compute: BatchLoss;
  variables: tf.Variable[];
  /** The loss's own random stream when it draws as it goes (margin's pair sampling): checkpoints keep its position. */
  random?: SeededRandom;
  dispose(): void;
}

/**
 * Builds a loss by name. Options (numbers) override the defaults: margin (triplet, 0.2), posMargin /
 * negMargin (contrastive, 0 / 1), alpha / beta / cutoff / nonzeroLossCutoff / seed (margin), alpha / beta /
 * base / epsilon (multi-similarity).
 */
export function createLoss(name: string, options: Record<string, number> = {}): MetricLoss {
  const plain = (compute: BatchLoss, config: Record<string, number | string>): MetricLoss => ({
    name: name as LossName,
    config,
    compute,
    variables: [],
    dispose: () => undefined,
  });
  switch (name) {
    case 'triplet':
    case 'triplet-semihard': {
      const mining: TripletMining = name === 'triplet' ? 'batch-hard' : 'semi-hard';
      const margin = options.margin ?? 0.2;
      return plain(tripletLoss({ margin, mining }), { margin, mining });
    }
    case 'contrastive': {
      const config = { posMargin: options.posMargin ?? 0, negMargin: options.negMargin ?? 1 };
      return plain(contrastiveLoss(config), config);
    }
    case 'multi-similarity': {
      const config = {
        alpha: options.alpha ?? 2,
        beta: options.beta ?? 50,
        base: options.base ?? 0.5,
        epsilon: options.epsilon ?? 0.1,
      };
      return plain(multiSimilarityLoss(config), config);
    }
    case 'margin': {
      const config = {
        alpha: options.alpha ?? 0.2,
        beta: options.beta ?? 1.2,
        cutoff: options.cutoff ?? 0.5,
        nonzeroLossCutoff: options.nonzeroLossCutoff ?? 1.4,
        seed: options.seed ?? 0,
      };
      const margin = createMarginLoss(config);
      return {
        name: 'margin',
        config,
        compute: margin.compute,
        variables: [margin.beta],
        random: margin.random,
        dispose: () => margin.beta.dispose(),
      };
    }
    default:
      throw new Error(`unknown loss '${name}' (expected one of ${LOSS_NAMES.join(', ')})`);
  }
}
