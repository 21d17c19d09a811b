import { arg, flag, numberArg } from './args';

describe('bench argument helpers', () => {
  const argv = ['node', 'script.ts', 'FILE', '--n', '1000', '--mode', 'maps', '--hnsw', '--out'];

  it('reads `--name value`, falling back when the option or its value is absent', () => {
    expect(arg('mode', 'array', argv)).toBe('maps');
    expect(arg('n', '5', argv)).toBe('1000');
    expect(arg('dim', '128', argv)).toBe('128');
    expect(arg('out', 'results.json', argv)).toBe('results.json'); // last word, no value
    expect(arg('hnsw', 'x', ['node', 's', '--hnsw', '--n', '3'])).toBe('x'); // a switch, not a value
  });

  it('reads numbers, and stops on one that is not', () => {
    expect(numberArg('n', 5, argv)).toBe(1000);
    expect(numberArg('dim', 128, argv)).toBe(128);
    expect(() => numberArg('mode', 1, argv)).toThrow("--mode: expected a number, got 'maps'");
  });

  it('tells whether a switch is present', () => {
    expect(flag('hnsw', argv)).toBe(true);
    expect(flag('fill-only', argv)).toBe(false);
  });
});
