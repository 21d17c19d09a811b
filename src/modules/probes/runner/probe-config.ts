/**
 * What a probe runs: the normalised, validated configuration shared by the HTTP layer (which checks it
 * up front) and the worker (which runs it). Framework-free.
 */
import { ATTACK_NAMES, type AttackName } from '../../../ml/attacks/definitions';

export const PROBE_SETS = ['dataset:mnist', 'gallery'] as const;
export type ProbeSetName = (typeof PROBE_SETS)[number];

/** Hard bounds: a probe is a request over HTTP, so every size is capped. */
export const PROBE_LIMITS = {
  maxSteps: 1000,
  maxRestarts: 10,
  maxEpsValues: 12,
  maxSampleSize: 2000,
  maxGallerySize: 10000,
  maxExamples: 16,
  maxQueriesPerCandidate: 20,
} as const;

export interface ProbeConfig {
  /** Model version id (the deployed one when the request named none). */
  model: string;
  attacks: AttackName[];
  /** One eps, or several for a curve; the suite, ERS and sanity figures use the largest. */
  eps: number[];
  stepSize: number;
  steps: number;
  restarts: number;
  randomStart: boolean;
  /** Queries (and candidates) attacked. */
  sampleSize: number;
  probeSet: ProbeSetName;
  /** At most this many images of the probe set form the clean gallery the attacks rank against. */
  gallerySize: number;
  seed: number;
  /** Worst examples kept as images. */
  examples: number;
  /** W of CA+/CA- (queries per candidate). */
  queriesPerCandidate: number;
}

export const PROBE_DEFAULTS = {
  eps: [8 / 255],
  stepSize: 3 / 255,
  steps: 32,
  restarts: 1,
  randomStart: false,
  sampleSize: 100,
  probeSet: 'dataset:mnist' as ProbeSetName,
  gallerySize: 1000,
  seed: 0,
  examples: 4,
  // The suite's default, so a probe and `rir attack` with the same settings give the same figures.
  queriesPerCandidate: 1,
};

/** The eps the suite, ERS and sanity checks run at. */
export function primaryEps(config: Pick<ProbeConfig, 'eps'>): number {
  return Math.max(...config.eps);
}

/** Parses an eps given as a number or a fraction string such as "77/255". */
export function parseEps(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const fraction = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(value);
    if (fraction) return Number(fraction[1]) / Number(fraction[2]);
    if (value.trim() !== '') return Number(value);
  }
  return NaN;
}

/** `all`, a comma-separated string, or a list; names are case-insensitive. Throws naming the known ones. */
export function parseAttacks(value: unknown): AttackName[] {
  const list =
    typeof value === 'string'
      ? value.split(',')
      : Array.isArray(value)
        ? value.map((v) => String(v))
        : null;
  if (!list) throw new Error(`attacks must be a list of names or 'all'`);
  const names = list.map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  if (names.length === 0) throw new Error('attacks must name at least one attack');
  if (names.includes('ALL')) return [...ATTACK_NAMES];
  const unknown = names.filter((n) => !(ATTACK_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown attack${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}: known attacks are ${ATTACK_NAMES.join(', ')} (or 'all')`,
    );
  }
  return [...new Set(names)] as AttackName[];
}
