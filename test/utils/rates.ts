/**
 * The API gives every rate (R@1, MAP@R, ES:R, LTM, GTM, GTT's retain@4, percentile ranks, ERS, shares,
 * their intervals and chance levels) as a fraction in [0, 1]. `ratesOutsideUnit` walks a response and
 * names each rate-like number outside [0, 1], so a test can expect none.
 */

/** Fields that hold a rate wherever they appear. */
const RATE_KEY =
  /recall|mapAtR|^value$|^low$|^high$|chance|^ers$|share$|^mean$|^cleanMean$|^p\d+$|^from$|^to$|^base$|^stronger$|^drop$|percentileRank|retainAt4|^(CA|QA)[+-]$|^ES:R$|^LTM$|^GTM$|^GTT$/i;
/** Subtrees that hold no rates (distances, cosines, configurations, pixels). */
const NOT_RATES = new Set([
  'TMA',
  'ES:D',
  'embeddingShift',
  'config',
  'configuration',
  'options',
  'spec',
  'progress',
  'examples',
  'model',
  'probeSet',
  'attack',
]);

export function ratesOutsideUnit(value: unknown, path = '', key = ''): string[] {
  if (typeof value === 'number') {
    const isRate = RATE_KEY.test(key);
    return isRate && Number.isFinite(value) && (value < 0 || value > 1 + 1e-12)
      ? [`${path} = ${value}`]
      : [];
  }
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value)
    ? value.map((v, i) => [key, v, `${path}[${i}]`] as const)
    : Object.entries(value).map(([k, v]) => [k, v, path ? `${path}.${k}` : k] as const);
  return entries.flatMap(([k, v, p]) => (NOT_RATES.has(k) ? [] : ratesOutsideUnit(v, p, k)));
}

/** How many rate-like numbers a response holds (a check that ratesOutsideUnit looked at something). */
export function countRates(value: unknown, key = ''): number {
  if (typeof value === 'number') return RATE_KEY.test(key) ? 1 : 0;
  if (value === null || typeof value !== 'object') return 0;
  const entries = Array.isArray(value)
    ? value.map((v) => [key, v] as const)
    : Object.entries(value);
  return entries.reduce((sum, [k, v]) => sum + (NOT_RATES.has(k) ? 0 : countRates(v, k)), 0);
}
