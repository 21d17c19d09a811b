/**
 * The statistics behind every robustness figure: 95% intervals (Wilson score intervals for rates, a
 * seeded percentile bootstrap over queries for means and for statistics built from several figures),
 * the R@1 a random ranking would get (chance level), folds with a paired bootstrap, and one formatter.
 *
 * Unit convention: the functions here take and return fractions and plain numbers; the reports scale
 * rates and ranks to percent (0..100) and keep TMA (cosine), ES:D (distance in 0..2), ERS (points 0..100)
 * and folds (ratios) in their own units. An interval always has the unit of its figure.
 */
import { SeededRandom } from '../data/random';

/** z of a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** Resamples and seed every report uses: the same data give the same interval. */
export const BOOTSTRAP_DEFAULTS = { resamples: 2000, seed: 0 } as const;

export interface BootstrapOptions {
  /** At least 1,000 (default 2,000). */
  resamples?: number;
  seed?: number;
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** A figure with its number of queries and its 95% interval, in the figure's unit. */
export interface Estimate extends Interval {
  n: number;
  method: 'wilson' | 'bootstrap';
}

/** An estimate's own fields only (value, interval, n, method), without what a figure adds to it (chance, verdict). */
export function plainEstimate(estimate: Estimate): Estimate {
  return {
    value: estimate.value,
    low: estimate.low,
    high: estimate.high,
    n: estimate.n,
    method: estimate.method,
  };
}

/**
 * Wilson score interval of k successes in n trials, as fractions. n = 0 says nothing: value NaN,
 * interval [0, 1].
 */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer (got ${n})`);
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`k must be an integer in [0, n] (got ${k} of ${n})`);
  if (n === 0) return { value: NaN, low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At k = 0 and k = n one end is exactly 0 or 1; keep rounding from moving it.
  return {
    value: p,
    low: k === 0 ? 0 : Math.max(0, centre - half),
    high: k === n ? 1 : Math.min(1, centre + half),
  };
}

/** Quantile q of ascending `sorted` values, interpolated linearly between order statistics. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  const a = sorted[below];
  const b = sorted[above];
  if (a === b) return a; // also Infinity == Infinity, which the interpolation would turn into NaN
  return a + (b - a) * (at - below);
}

function resamplesOf(options: BootstrapOptions): number {
  const resamples = options.resamples ?? BOOTSTRAP_DEFAULTS.resamples;
  if (!Number.isInteger(resamples) || resamples < 1000)
    throw new Error(`a bootstrap needs at least 1000 resamples (got ${resamples})`);
  return resamples;
}

/**
 * Percentile bootstrap of a statistic of n items: `statistic(indices)` is computed on the identity
 * (the point value) and on `resamples` draws of n indices with replacement; the interval is the
 * 2.5% and 97.5% quantiles of the resampled values. Seeded: the same call gives the same interval.
 */
export function bootstrapStat(
  n: number,
  statistic: (indices: Int32Array) => number,
  options: BootstrapOptions = {},
): Interval {
  const resamples = resamplesOf(options);
  if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer (got ${n})`);
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const value = statistic(identity);
  if (n === 0) return { value, low: NaN, high: NaN };
  const rng = new SeededRandom(options.seed ?? BOOTSTRAP_DEFAULTS.seed);
  const draws = new Float64Array(resamples);
  const indices = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) indices[i] = rng.int(n);
    draws[r] = statistic(indices);
  }
  draws.sort();
  return { value, low: quantile(draws, 0.025), high: quantile(draws, 0.975) };
}

/** Mean of the values at `indices`. */
export function meanAt(values: ArrayLike<number>, indices: ArrayLike<number>): number {
  if (indices.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < indices.length; i++) sum += values[indices[i]];
  return sum / indices.length;
}

/** Bootstrap interval of a mean. */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions = {}): Interval {
  return bootstrapStat(values.length, (indices) => meanAt(values, indices), options);
}

/** A rate from per-query outcomes (each 0 or `scale`, e.g. 0/100): Wilson, in the unit of `scale`. */
export function rateEstimate(outcomes: ArrayLike<number>, scale = 100): Estimate {
  let k = 0;
  for (let i = 0; i < outcomes.length; i++) {
    if (outcomes[i] === scale) k++;
    else if (outcomes[i] !== 0)
      throw new Error(`a rate needs outcomes of 0 or ${scale} (got ${outcomes[i]})`);
  }
  return rateFromCount(k, outcomes.length, scale);
}

/** A rate from its count: Wilson, in the unit of `scale`. */
export function rateFromCount(k: number, n: number, scale = 100): Estimate {
  const w = wilson(k, n);
  return { value: scale * w.value, low: scale * w.low, high: scale * w.high, n, method: 'wilson' };
}

/**
 * A rate known only as an aggregate (a report written before per-query outcomes were kept): the count
 * is recovered as round(rate * n).
 */
export function rateFromAggregate(rate: number, n: number, scale = 100): Estimate {
  return rateFromCount(Math.min(n, Math.max(0, Math.round((rate / scale) * n))), n, scale);
}

/** A mean from per-query values: percentile bootstrap. */
export function meanEstimate(values: ArrayLike<number>, options: BootstrapOptions = {}): Estimate {
  return { ...bootstrapMean(values, options), n: values.length, method: 'bootstrap' };
}

/**
 * The R@1 of a random ranking of the same gallery (a fraction): per query the share of gallery items
 * of its class, the query itself left out where it is a gallery item, averaged over queries.
 */
export function chanceLevel(
  galleryLabels: ArrayLike<number>,
  queries: { label: number; inGallery: boolean }[],
): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < galleryLabels.length; i++)
    counts.set(galleryLabels[i], (counts.get(galleryLabels[i]) ?? 0) + 1);
  if (queries.length === 0) return NaN;
  let sum = 0;
  for (const query of queries) {
    const same = (counts.get(query.label) ?? 0) - (query.inGallery ? 1 : 0);
    const others = galleryLabels.length - (query.inGallery ? 1 : 0);
    sum += others > 0 ? same / others : 0;
  }
  return sum / queries.length;
}

/** chanceLevel for queries that are gallery rows (the attack suite's queries). */
export function chanceOfRows(labels: ArrayLike<number>, rows: number[]): number {
  return chanceLevel(
    labels,
    rows.map((row) => ({ label: labels[row], inGallery: true })),
  );
}

export type ChanceVerdict = 'above chance' | 'at chance' | 'below chance';

/** Where an R@1-type figure's interval lies against its chance level (both in the same unit). */
export function chanceVerdict(interval: Interval, chance: number): ChanceVerdict {
  if (interval.low > chance) return 'above chance';
  if (interval.high < chance) return 'below chance';
  return 'at chance';
}

/** What a verdict means for an adversarial R@1, in words. */
export const CHANCE_MEANING: Record<ChanceVerdict, string> = {
  'above chance': 'the model still retrieves better than a random ranking',
  'at chance': 'the attack moves the embedding, but not where the attacker wants',
  'below chance': 'the attacker steers it',
};

export interface Fold extends Interval {
  /** Queries both figures were measured on. */
  n: number;
  /** The interval includes 1. */
  significant: boolean;
}

/**
 * The ratio mean(numerator) / mean(denominator) of two figures measured on the same queries (a
 * defended and an undefended model), with a paired bootstrap: one draw of query indices for both.
 * x / 0 is Infinity for x > 0 and 1 for x = 0 (both zero: no difference).
 */
export function pairedFold(
  numerator: ArrayLike<number>,
  denominator: ArrayLike<number>,
  options: BootstrapOptions = {},
): Fold {
  if (numerator.length !== denominator.length)
    throw new Error(
      `a paired fold needs the same queries (got ${numerator.length} and ${denominator.length} values)`,
    );
  const ratio = (indices: Int32Array): number => {
    const top = meanAt(numerator, indices);
    const bottom = meanAt(denominator, indices);
    if (bottom === 0) return top === 0 ? 1 : Infinity;
    return top / bottom;
  };
  const interval = bootstrapStat(numerator.length, ratio, options);
  return {
    ...interval,
    n: numerator.length,
    significant: !(interval.low <= 1 && interval.high >= 1),
  };
}

/** 4861 -> "4,861". */
export function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export interface FormatOptions {
  /** Digits after the point (default 1; 3 suits cosines and distances). */
  digits?: number;
  /** Appended to the value, e.g. '%'. */
  unit?: string;
}

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : value > 0 ? 'inf' : '-';

/** "20.7% [19.6, 21.9], n = 4,861". */
export function formatEstimate(
  estimate: Pick<Estimate, 'value' | 'low' | 'high' | 'n'>,
  options: FormatOptions = {},
): string {
  const digits = options.digits ?? 1;
  const value = `${fixed(estimate.value, digits)}${options.unit ?? ''}`;
  if (!Number.isFinite(estimate.low) && !Number.isFinite(estimate.high))
    return `${value}, n = ${groupThousands(estimate.n)}`;
  return `${value} [${fixed(estimate.low, digits)}, ${fixed(estimate.high, digits)}], n = ${groupThousands(estimate.n)}`;
}

/** "2.0x [0.9, 4.5], n = 30: no significant difference" (or without the words when it excludes 1). */
export function formatFold(fold: Fold): string {
  const text = `${fixed(fold.value, 1)}x [${fixed(fold.low, 1)}, ${fixed(fold.high, 1)}], n = ${groupThousands(fold.n)}`;
  return fold.significant ? text : `${text}: no significant difference`;
}
