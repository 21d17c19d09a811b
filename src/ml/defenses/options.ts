/** Options shared by the robust-training defences; validated before any training starts. */
import { DEFAULT_MARGIN } from './triplets';

export const DEFENSE_NAMES = ['none', 'panum', 'naive', 'est', 'act', 'hm', 'hm-ics'] as const;
export type DefenseName = (typeof DEFENSE_NAMES)[number];

export interface DefenseOptions {
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
  return { eps, steps, alpha, weight, margin, icsWeight, seed: options.seed ?? 0 };
}
