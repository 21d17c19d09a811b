import { mergeIntoDocument, ratioToTorch } from './benchmark-report';
import type { BenchRow } from './benchmark';

describe('benchmark report', () => {
  it('replaces only its own generated section and keeps the other benchmarks', () => {
    const others = '## Vector index\n\nrecall 0.97\n';
    const first = mergeIntoDocument(others, '# Benchmarks\n\nrun 1');
    expect(first).toContain('run 1');
    expect(first).toContain('recall 0.97');
    const second = mergeIntoDocument(first, '# Benchmarks\n\nrun 2');
    expect(second).toContain('run 2');
    expect(second).not.toContain('run 1');
    expect(second.indexOf('recall 0.97')).toBeGreaterThan(second.indexOf('run 2'));
    expect(second.match(/# Benchmarks/g)).toHaveLength(1);
  });

  it('divides tfjs by PyTorch images/s at the same thread count only', () => {
    const row = (framework: BenchRow['framework'], threads: number, imgPerS: number): BenchRow => ({
      framework,
      backend: 'x',
      mode: 'train',
      height: 28,
      channels: 1,
      batch: 128,
      threads,
      median_ms: 1,
      img_per_s: imgPerS,
    });
    const rows = [row('pytorch', 2, 400), row('tfjs', 2, 500), row('tfjs', 1, 300)];
    expect(ratioToTorch(rows, rows[1])).toBe(1.25);
    expect(ratioToTorch(rows, rows[2])).toBeUndefined();
  });

  it('pairs tfjs and PyTorch rows of the same A/B round and production mode', () => {
    const row = (framework: BenchRow['framework'], round: number, imgPerS: number): BenchRow => ({
      framework,
      backend: 'x',
      mode: 'small-cnn:panum7',
      height: 28,
      channels: 1,
      batch: 128,
      threads: 2,
      median_ms: 1,
      img_per_s: imgPerS,
      round,
    });
    const rows = [
      row('pytorch', 1, 40),
      row('tfjs', 1, 50),
      row('pytorch', 2, 100),
      row('tfjs', 2, 50),
    ];
    expect(ratioToTorch(rows, rows[1])).toBe(1.25);
    expect(ratioToTorch(rows, rows[3])).toBe(0.5);
    expect(ratioToTorch(rows, { ...rows[3], round: 3 })).toBeUndefined();
  });
});
