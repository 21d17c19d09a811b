/**
 * Test helpers shared by the kernel specs: deterministic inputs every backend sees identically, and the
 * error measure the kernels are held to. Imported by *.spec.ts only.
 */

/** Deterministic values in [-0.5, 0.5) from a linear congruential generator. */
export function lcgValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 4294967296 - 0.5;
  }
  return out;
}

/** Largest absolute difference over the largest absolute expected value; throws on length mismatch. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length)
    throw new Error(`lengths differ: ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}
