/** Layout of an example PNG: three panels (original | adversarial | amplified perturbation), upscaled. */
export const EXAMPLE_GAP = 4;
/** Small images (28 px) are enlarged with nearest-neighbour so single pixels stay visible. */
export const EXAMPLE_MIN_PANEL = 112;

export function exampleLayout(shape: [number, number, number]): {
  width: number;
  height: number;
  scale: number;
} {
  const [h, w] = shape;
  const scale = Math.max(1, Math.ceil(EXAMPLE_MIN_PANEL / Math.max(h, w)));
  return { width: 3 * w * scale + 2 * EXAMPLE_GAP, height: h * scale, scale };
}

/** Pixels in [0,1] -> bytes. */
export function toBytes(pixels: Float32Array): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++)
    out[i] = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
  return out;
}

/** The perturbation mapped to grey: 128 = unchanged, 0 / 255 = the largest change down / up. */
export function amplifiedPerturbation(
  original: Float32Array,
  adversarial: Float32Array,
): Uint8Array {
  let largest = 0;
  for (let i = 0; i < original.length; i++)
    largest = Math.max(largest, Math.abs(adversarial[i] - original[i]));
  const out = new Uint8Array(original.length);
  for (let i = 0; i < original.length; i++) {
    const scaled = largest > 0 ? (adversarial[i] - original[i]) / largest : 0;
    out[i] = Math.round(127.5 + 127.5 * scaled);
  }
  return out;
}
