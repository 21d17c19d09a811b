import { mean, median, percentile, quantile, round } from './stats';

describe('bench statistics', () => {
  it('median: the middle value, or the mean of the two middle ones; NaN for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('percentile: the nearest rank at or above p, always a measured value', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(51);
    expect(percentile(sorted, 99)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('quantile: the value at the index nearest q (n - 1), from the smallest to the largest', () => {
    const sorted = Float64Array.from([10, 20, 30, 40, 50]);
    expect(quantile(sorted, 0)).toBe(10);
    expect(quantile(sorted, 0.5)).toBe(30);
    expect(quantile(sorted, 0.6)).toBe(30); // index 2.4 rounds to 2
    expect(quantile(sorted, 1)).toBe(50);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('mean and round', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(mean(Float64Array.from([0.5, 1.5]))).toBe(1);
    expect(mean([])).toBeNaN();
    expect(round(2.34567, 2)).toBe(2.35);
    expect(round(1234.5, 0)).toBe(1235);
  });
});
