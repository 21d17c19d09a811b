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

/** Each loss's numeric options with their defaults (margin's seed is the run's, not an option). */
export const LOSS_DEFAULTS: Record<LossName, Readonly<Record<string, number>>> = {
  triplet: { margin: 0.2 },
  'triplet-semihard': { margin: 0.2 },
  contrastive: { posMargin: 0, negMargin: 1 },
  margin: { alpha: 0.2, beta: 1.2, cutoff: 0.5, nonzeroLossCutoff: 1.4 },
  'multi-similarity': { alpha: 2, beta: 50, base: 0.5, epsilon: 0.1 },
};

/** Throws naming the loss's options (LOSS_DEFAULTS) when `options` sets one it does not read, or a value that is not a number. */
export function checkLossOptions(name: string, options: Record<string, number>): void {
  const known = Object.keys(LOSS_DEFAULTS[name as LossName] ?? {});
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

/** Builds a loss by name. Options (numbers) override LOSS_DEFAULTS; margin also takes the run's seed. */
export function createLoss(name: string, options: Record<string, number> = {}): MetricLoss {
  const plain = (compute: BatchLoss, config: Record<string, number | string>): MetricLoss => ({
    name: name as LossName,
    config,
    compute,
    variables: [],
    dispose: () => undefined,
  });
  if (!(LOSS_NAMES as readonly string[]).includes(name))
    throw new Error(`unknown loss '${name}' (expected one of ${LOSS_NAMES.join(', ')})`);
  // The loss's options: the given ones over the defaults, in the defaults' order.
  const defaults = LOSS_DEFAULTS[name as LossName];
  const config = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [key, options[key] ?? value]),
  );
  switch (name) {
    case 'triplet':
    case 'triplet-semihard': {
      const mining: TripletMining = name === 'triplet' ? 'batch-hard' : 'semi-hard';
      return plain(tripletLoss({ margin: config.margin, mining }), { ...config, mining });
    }
    case 'contrastive':
      return plain(contrastiveLoss(config), config);
    case 'multi-similarity':
      return plain(multiSimilarityLoss(config), config);
    case 'margin': {
      const marginConfig = { ...config, seed: options.seed ?? 0 };
      const margin = createMarginLoss(marginConfig);
      return {
        name: 'margin',
        config: marginConfig,
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
