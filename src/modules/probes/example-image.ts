import sharp from 'sharp';
import { EXAMPLE_GAP, exampleLayout } from './runner/example-layout';
import type { ExampleImages } from './runner/run-probe';

/**
 * original | adversarial | amplified perturbation, side by side on white, each panel enlarged with
 * nearest-neighbour (exampleLayout) so single-pixel changes stay visible.
 */
export async function composeExamplePng(
  example: ExampleImages,
): Promise<{ png: Buffer; width: number; height: number }> {
  const [h, w, c] = example.shape;
  const { width, height, scale } = exampleLayout(example.shape);
  const expected = h * w * c;
  for (const [name, panel] of Object.entries({
    original: example.original,
    adversarial: example.adversarial,
    perturbation: example.perturbation,
  })) {
    if (panel.length !== expected)
      throw new Error(
        `example ${name} has ${panel.length} values, expected ${h}x${w}x${c} = ${expected}`,
      );
  }
  const canvas = Buffer.alloc(width * height * c, 255);
  [example.original, example.adversarial, example.perturbation].forEach((panel, p) => {
    const left = p * (w * scale + EXAMPLE_GAP);
    for (let y = 0; y < height; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < w * scale; x++) {
        const sx = Math.floor(x / scale);
        for (let k = 0; k < c; k++)
          canvas[(y * width + left + x) * c + k] = panel[(sy * w + sx) * c + k];
      }
    }
  });
  const png = await sharp(canvas, { raw: { width, height, channels: c as 1 | 3 } })
    .png()
    .toBuffer();
  return { png, width, height };
}
