import { SeededRandom } from '../data/random';

export { SeededRandom };

/** k distinct integers of [0, n), in random order (partial Fisher-Yates). */
export function sampleDistinct(rng: SeededRandom, n: number, k: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  const count = Math.min(k, n);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}
