/**
 * Robust training objectives, selectable by name (`--defense`). Each implements `Defense`: `craft` runs the
 * inner maximisation outside the gradient tape, `objective` builds the loss inside it. The inner
 * maximisation's method (`inner`: pgd, fast, free) is an option of every robust defence (inner.ts).
 */
import type { Defense } from '../types';
import { ActDefense } from './act';
import { EstDefense } from './est';
import { HmDefense } from './hm';
import { NaiveDefense } from './naive';
import { NaturalTraining } from './natural';
import {
  DEFENSE_NAMES,
  INNER_NAMES,
  OVERFIT_ACTIONS,
  resolveDefenseOptions,
  resolveInnerOptions,
  type DefenseName,
  type DefenseOptions,
  type InnerName,
  type OverfitAction,
} from './options';
import { PanumDefense } from './panum';

export { DEFENSE_NAMES, INNER_NAMES, OVERFIT_ACTIONS, resolveDefenseOptions, resolveInnerOptions };
export type { DefenseName, DefenseOptions, InnerName, OverfitAction };
export { mineNaturalTriplets, tripletLoss, hardness } from './triplets';

export function isDefenseName(name: string): name is DefenseName {
  return (DEFENSE_NAMES as readonly string[]).includes(name);
}

/** Builds a defence by name; unknown names and invalid options fail here, before any training work. */
export function createDefense(name: string, options: DefenseOptions = {}): Defense {
  if (!isDefenseName(name)) {
    throw new Error(`unknown defence '${name}': known defences are ${DEFENSE_NAMES.join(', ')}`);
  }
  if (name === 'none') {
    resolveInnerOptions(name, options); // an inner maximisation other than pgd is an error here
    return new NaturalTraining();
  }
  const resolved = resolveDefenseOptions(name, options);
  switch (name) {
    case 'panum':
      return new PanumDefense(resolved);
    case 'naive':
      return new NaiveDefense(resolved);
    case 'est':
      return new EstDefense(resolved);
    case 'act':
      return new ActDefense(resolved);
    case 'hm':
    case 'hm-ics':
      return new HmDefense(resolved);
  }
}
