import {
  bootstrapMean,
  bootstrapStat,
  chanceLevel,
  chanceOfRows,
  chanceVerdict,
  formatEstimate,
  formatFold,
  meanAt,
  pairedFold,
  quantile,
  rateEstimate,
  rateFromAggregate,
  wilson,
} from './intervals';

describe('wilson', () => {
  // p~ = (k + z^2/2) / (n + z^2), half = z sqrt(n) / (n + z^2) sqrt(p(1-p) + z^2/(4n)), z = 1.95996.
  it.each([
    [0, 10, 0, 0.2775],
    [5, 10, 0.2366, 0.7634],
    [10, 10, 0.7225, 1],
    [81, 100, 0.7222, 0.8749],
    [1, 30, 0.0059, 0.1667],
  ])('%i of %i: [%f, %f]', (k, n, low, high) => {
    const w = wilson(k, n);
    expect(w.value).toBeCloseTo(k / n, 12);
    expect(w.low).toBeCloseTo(low, 4);
    expect(w.high).toBeCloseTo(high, 4);
  });

  it('pins the ends at 0 and 1 exactly, says nothing for n = 0, and rejects impossible counts', () => {
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(10, 10).high).toBe(1);
    expect(wilson(0, 0)).toEqual({ value: NaN, low: 0, high: 1 });
    expect(() => wilson(11, 10)).toThrow(/k must be an integer in \[0, n\]/);
    expect(() => wilson(1.5, 10)).toThrow(/k must be an integer/);
  });

  it('counts per-query outcomes of 0 and 100 into a percent interval', () => {
    const outcomes = [...new Array<number>(81).fill(100), ...new Array<number>(19).fill(0)];
    const e = rateEstimate(outcomes);
    expect(e).toMatchObject({ n: 100, method: 'wilson' });
    expect(e.value).toBeCloseTo(81, 10);
    expect(e.low).toBeCloseTo(72.22, 2);
    expect(e.high).toBeCloseTo(87.49, 2);
    expect(() => rateEstimate([0, 50, 100])).toThrow(/outcomes of 0 or 100 \(got 50\)/);
    // An aggregate-only figure: 3.3% of 30 queries is 1 query.
    const old = rateFromAggregate(100 / 30, 30);
    expect(old.low).toBeCloseTo(0.59, 2);
    expect(old.high).toBeCloseTo(16.67, 2);
  });
});

describe('bootstrap', () => {
  it('of a constant is degenerate', () => {
    const i = bootstrapMean(new Array<number>(50).fill(0.8));
    expect(i.value).toBeCloseTo(0.8, 12);
    expect([i.low, i.high]).toEqual([i.value, i.value]);
  });

  it('of 0..99 is close to the normal approximation 49.5 +- 1.96 x 2.887', () => {
    const values = Array.from({ length: 100 }, (_, i) => i);
    const i = bootstrapMean(values, { resamples: 4000, seed: 7 });
    expect(i.value).toBe(49.5);
    // Normal approximation: [43.84, 55.16]; the bootstrap's se is sqrt((n-1)/n) of it, and a
    // percentile from 4,000 draws wobbles by about 0.3.
    expect(Math.abs(i.low - 43.84)).toBeLessThan(0.6);
    expect(Math.abs(i.high - 55.16)).toBeLessThan(0.6);
  });

  it('gives the same interval for the same seed, another for another seed', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9];
    expect(bootstrapMean(values, { seed: 3 })).toEqual(bootstrapMean(values, { seed: 3 }));
    expect(bootstrapMean(values, { seed: 3 })).not.toEqual(bootstrapMean(values, { seed: 4 }));
  });

  it('recomputes a statistic of several figures from one draw of query indices per resample', () => {
    // Two figures of the same 4 queries whose difference is the same constant for every query:
    // resampling queries jointly keeps the difference exactly 2; resampling them apart would not.
    const a = [1, 5, 9, 13];
    const b = [-1, 3, 7, 11];
    const i = bootstrapStat(4, (idx) => meanAt(a, idx) - meanAt(b, idx), { seed: 1 });
    expect([i.value, i.low, i.high]).toEqual([2, 2, 2]);
  });

  it('needs at least 1,000 resamples', () => {
    expect(() => bootstrapMean([1, 2], { resamples: 999 })).toThrow(/at least 1000 resamples/);
  });

  it('interpolates quantiles between order statistics', () => {
    expect(quantile([0, 10, 20, 30, 40], 0.025)).toBeCloseTo(1, 12);
    expect(quantile([0, 10, 20, 30, 40], 0.975)).toBeCloseTo(39, 12);
    expect(quantile([1, Infinity, Infinity], 0.975)).toBe(Infinity);
  });
});

describe('chance level', () => {
  // Gallery: three 0s, two 1s, one 2 (six items).
  const labels = [0, 0, 0, 1, 1, 2];

  it('is the mean share of same-class items, the query left out of the gallery it belongs to', () => {
    // Row 0 (class 0): 2 of the 5 others; row 3 (class 1): 1 of 5; row 5 (class 2): 0 of 5.
    expect(chanceOfRows(labels, [0, 3])).toBeCloseTo((2 / 5 + 1 / 5) / 2, 12);
    expect(chanceOfRows(labels, [0, 3, 5])).toBeCloseTo(3 / 15, 12);
  });

  it('counts every item for a query from outside the gallery', () => {
    expect(
      chanceLevel(labels, [
        { label: 0, inGallery: false },
        { label: 2, inGallery: false },
      ]),
    ).toBeCloseTo((3 / 6 + 1 / 6) / 2, 12);
  });

  it('places an interval above, at or below chance', () => {
    expect(chanceVerdict({ value: 30, low: 25, high: 35 }, 20)).toBe('above chance');
    expect(chanceVerdict({ value: 22, low: 15, high: 30 }, 20)).toBe('at chance');
    expect(chanceVerdict({ value: 5, low: 2, high: 10 }, 20)).toBe('below chance');
  });
});

describe('paired fold', () => {
  it('of identical figures is 1 with a degenerate interval: no significant difference', () => {
    const values = [100, 0, 100, 0, 0, 100];
    const fold = pairedFold(values, values);
    expect([fold.value, fold.low, fold.high, fold.n]).toEqual([1, 1, 1, 6]);
    expect(fold.significant).toBe(false);
    expect(formatFold(fold)).toBe('1.0x [1.0, 1.0], n = 6: no significant difference');
  });

  it('of one query in 30 against two is 2.0x, and its interval includes 1', () => {
    const base = new Array<number>(30).fill(0);
    base[4] = 100;
    const robust = new Array<number>(30).fill(0);
    robust[4] = 100;
    robust[17] = 100;
    const fold = pairedFold(robust, base);
    expect(fold.value).toBe(2);
    expect(fold.low).toBeLessThanOrEqual(1);
    expect(fold.significant).toBe(false);
    expect(formatFold(fold)).toMatch(/^2\.0x \[1\.0, inf\], n = 30: no significant difference$/);
  });

  it('is significant when every query improves', () => {
    const fold = pairedFold(
      Array.from({ length: 40 }, (_, i) => 60 + (i % 5)),
      Array.from({ length: 40 }, (_, i) => 20 + (i % 5)),
    );
    expect(fold.low).toBeGreaterThan(1);
    expect(fold.significant).toBe(true);
    expect(formatFold(fold)).not.toContain('no significant difference');
  });

  it('needs the same queries on both sides', () => {
    expect(() => pairedFold([1, 2], [1])).toThrow(/same queries/);
  });
});

describe('formatEstimate', () => {
  it('prints value, interval and n with thousands grouped', () => {
    expect(formatEstimate({ value: 20.7, low: 19.6, high: 21.9, n: 4861 }, { unit: '%' })).toBe(
      '20.7% [19.6, 21.9], n = 4,861',
    );
    expect(formatEstimate({ value: 0.8481, low: 0.8312, high: 0.8623, n: 30 }, { digits: 3 })).toBe(
      '0.848 [0.831, 0.862], n = 30',
    );
    expect(formatEstimate({ value: 1234567, low: 1, high: 2, n: 1234567 })).toBe(
      '1234567.0 [1.0, 2.0], n = 1,234,567',
    );
  });
});
