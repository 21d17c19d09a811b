/** Options shared by the robust-training defences; validated before any training starts. */
import { DEFAULT_MARGIN } from './triplets';

export const DEFENSE_NAMES = ['none', 'panum', 'naive', 'est', 'act', 'hm', 'hm-ics'] as const;
export type DefenseName = (typeof DEFENSE_NAMES)[number];

/**
 * How a defence runs its inner maximisation (inner.ts): `pgd` (its PGD steps), `fast` (one signed-gradient
 * step from a uniform random start, Wong, Rice & Kolter 2020) or `free` (the batch replayed, the
 * perturbation ascending on the training step's own input gradient, Shafahi et al. 2019).
 */
export const INNER_NAMES = ['pgd', 'fast', 'free'] as const;
export type InnerName = (typeof INNER_NAMES)[number];
/** What the trainer does when the catastrophic-overfitting check fires (fast and free only). */
export const OVERFIT_ACTIONS = ['warn', 'stop', 'fallback'] as const;
export type OverfitAction = (typeof OVERFIT_ACTIONS)[number];
export const DEFAULT_FREE_REPLAYS = 4;
export const DEFAULT_OVERFIT_ACTION: OverfitAction = 'fallback';
/** The fast method's step, in units of eps (Wong et al.'s 1.25). */
export const FAST_STEP_FACTOR = 1.25;

/**
 * Defences whose crafted perturbation maximises the very term the weights minimise, so that one backward
 * pass can serve both (free training). The others craft against a different objective.
 */
const FREE_DEFENSES: Partial<Record<DefenseName, true>> = { panum: true, naive: true };
const WHY_NOT_FREE: Partial<Record<DefenseName, string>> = {
  none: 'it has no inner maximisation',
  est: 'it crafts to maximise the embedding shift but trains the metric loss',
  act: 'it crafts to collapse positives onto negatives but trains a triplet loss on a clean anchor',
  hm: "it crafts up to a destination hardness (the gradual adversary), which the training loss's gradient cannot stop at",
  'hm-ics':
    "it crafts up to a destination hardness (the gradual adversary), which the training loss's gradient cannot stop at",
};

/** The inner-maximisation settings of a run. */
export interface InnerOptions {
  inner?: InnerName;
  /** free: replays per batch (m). Default 4. */
  freeReplays?: number;
  /** fast, free: on catastrophic overfitting. Default `fallback` (to PGD). */
  onOverfit?: OverfitAction;
}

export type ResolvedInnerOptions =
  | { method: 'pgd' }
  | { method: 'fast'; onOverfit: OverfitAction }
  | { method: 'free'; replays: number; onOverfit: OverfitAction };

/** Validates the inner-maximisation settings against the defence (the CLI, the API and the trainer). */
export function resolveInnerOptions(defense: string, options: InnerOptions): ResolvedInnerOptions {
  const inner = options.inner ?? 'pgd';
  if (!(INNER_NAMES as readonly string[]).includes(inner))
    throw new Error(
      `unknown inner maximisation '${String(inner)}': valid ones are ${INNER_NAMES.join(', ')}`,
    );
  const onOverfit = options.onOverfit ?? DEFAULT_OVERFIT_ACTION;
  if (!(OVERFIT_ACTIONS as readonly string[]).includes(onOverfit))
    throw new Error(
      `unknown overfitting action '${String(onOverfit)}': valid ones are ${OVERFIT_ACTIONS.join(', ')}`,
    );
  const replays = options.freeReplays;
  if (replays !== undefined && (!Number.isInteger(replays) || replays < 1 || replays > 64))
    throw new Error(`free replays must be an integer in [1, 64] (got ${replays})`);
  if (replays !== undefined && inner !== 'free')
    throw new Error(`free replays apply to the free inner maximisation only (got inner ${inner})`);
  if (options.onOverfit !== undefined && inner === 'pgd')
    throw new Error('the catastrophic-overfitting action applies to inner fast and free only');
  if (defense === 'none' && inner !== 'pgd')
    throw new Error(
      `inner ${inner} needs a robust defence: defence none has no inner maximisation`,
    );
  if (inner === 'free' && !FREE_DEFENSES[defense as DefenseName]) {
    const why = WHY_NOT_FREE[defense as DefenseName] ?? 'it is not one of them';
    throw new Error(
      `inner free trains panum and naive only (one backward pass serves weights and perturbation when the perturbation ascends the loss the weights descend); not ${defense}: ${why}`,
    );
  }
  if (inner === 'pgd') return { method: inner };
  if (inner === 'fast') return { method: inner, onOverfit };
  return { method: inner, replays: replays ?? DEFAULT_FREE_REPLAYS, onOverfit };
}

export interface DefenseOptions extends InnerOptions {
  /** Training perturbation budget (L-inf, pixels in [0,1]). Default 8/255. */
  eps?: number;
  /** PGD steps of the inner maximisation. Default 8. */
  steps?: number;
  /** PGD step size. Default 2.5 * eps / steps. */
  alpha?: number;
  /** Weight lambda of the adversarial term (panum, naive). Default 1. */
  weight?: number;
  /** Triplet margin of the adversarial terms. Default 0.2. */
  margin?: number;
  /** HM only: add the ICS term with this weight (0 = off; `hm-ics` defaults to 0.5). */
  icsWeight?: number;
  seed?: number;
}

export interface ResolvedDefenseOptions {
  eps: number;
  steps: number;
  alpha: number;
  weight: number;
  margin: number;
  icsWeight: number;
  seed: number;
  /** The inner maximisation (recorded in the manifest's defence config). */
  inner: ResolvedInnerOptions;
}

export function resolveDefenseOptions(
  name: DefenseName,
  options: DefenseOptions,
): ResolvedDefenseOptions {
  const eps = options.eps ?? 8 / 255;
  const steps = options.steps ?? 8;
  const alpha = options.alpha ?? (2.5 * eps) / steps;
  const weight = options.weight ?? 1;
  const margin = options.margin ?? DEFAULT_MARGIN;
  const icsWeight = options.icsWeight ?? (name === 'hm-ics' ? 0.5 : 0);
  if (!Number.isFinite(eps) || eps < 0 || eps > 1)
    throw new Error(`training eps must be in [0, 1] (got ${eps})`);
  if (!Number.isInteger(steps) || steps <= 0)
    throw new Error(`training PGD steps must be a positive integer (got ${steps})`);
  if (!Number.isFinite(alpha) || alpha <= 0)
    throw new Error(`training step size must be > 0 (got ${alpha})`);
  if (!Number.isFinite(weight) || weight < 0)
    throw new Error(`adversarial weight must be >= 0 (got ${weight})`);
  if (!Number.isFinite(margin) || margin < 0)
    throw new Error(`margin must be >= 0 (got ${margin})`);
  if (!Number.isFinite(icsWeight) || icsWeight < 0)
    throw new Error(`ICS weight must be >= 0 (got ${icsWeight})`);
  const inner = resolveInnerOptions(name, options);
  return { eps, steps, alpha, weight, margin, icsWeight, seed: options.seed ?? 0, inner };
}
