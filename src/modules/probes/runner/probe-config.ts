/**
 * What a probe runs: the normalised, validated configuration shared by the HTTP layer (which checks it
 * up front) and the worker (which runs it). Framework-free.
 */
import { parseBudget, type AttackName } from '../../../ml/attacks/definitions';

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

/** An eps of a request body (a JSON number, or a string the ML core's parseBudget reads); NaN when neither. */
export function parseEps(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return NaN;
  try {
    return parseBudget(value, 'eps');
  } catch {
    return NaN;
  }
}
