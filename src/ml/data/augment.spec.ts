import { augmentBatch, validateAugmentation, type AugmentationConfig } from './augment';
import { SeededRandom } from './random';

/** A 16x16 image with a 4x6 bright block in the middle. */
function block(): Float32Array {
  const image = new Float32Array(16 * 16);
  for (let y = 5; y < 11; y++) for (let x = 6; x < 10; x++) image[y * 16 + x] = 1;
  return image;
}

function centreOfMass(image: Float32Array): [number, number, number] {
  let mass = 0;
  let sy = 0;
  let sx = 0;
  image.forEach((v, i) => {
    mass += v;
    sy += v * Math.floor(i / 16);
    sx += v * (i % 16);
  });
  return [mass, sy / mass, sx / mass];
}

const plain: AugmentationConfig = { maxShift: 0, horizontalFlip: false };

describe('augmentBatch warps', () => {
  it.each([
    [{ ...plain, maxRotation: 20 }],
    [{ ...plain, maxScale: 0.15 }],
    [{ ...plain, elasticAlpha: 2 }],
    [{ ...plain, maxRotation: 10, maxScale: 0.1, elasticAlpha: 1.5, maxShift: 1 }],
  ])('%j: same seed same result, the block stays near the centre', (config) => {
    const image = block();
    const a = augmentBatch(image, [16, 16, 1], config, new SeededRandom(4));
    const b = augmentBatch(image, [16, 16, 1], config, new SeededRandom(4));
    const c = augmentBatch(image, [16, 16, 1], config, new SeededRandom(5));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(image);
    const [mass0, y0, x0] = centreOfMass(image);
    const [mass, y, x] = centreOfMass(a);
    expect(Math.abs(mass - mass0) / mass0).toBeLessThan(0.4); // scale changes the area, at most by (1.15^2)
    expect(Math.abs(y - y0)).toBeLessThan(2.5);
    expect(Math.abs(x - x0)).toBeLessThan(2.5);
    for (const v of a) expect(v >= 0 && v <= 1).toBe(true); // bilinear: no overshoot
  });

  it('leaves the image as it is for a vanishing rotation (the warp path itself adds nothing)', () => {
    const image = block();
    const out = augmentBatch(image, [16, 16, 1], { ...plain, maxRotation: 1e-9 }, new SeededRandom(1));
    for (let i = 0; i < image.length; i++) expect(out[i]).toBeCloseTo(image[i], 5); // ~0 degrees: unchanged
  });

  it('rejects amounts that cannot be meant', () => {
    expect(() => validateAugmentation({ ...plain, maxRotation: -1 })).toThrow(
      /augmentation rotation must be in \[0, 180\] \(got -1\)/,
    );
    expect(() => validateAugmentation({ ...plain, maxScale: 1 })).toThrow(/scale must be in \[0, 0.9\]/);
    expect(() => validateAugmentation({ ...plain, elasticAlpha: 2, elasticSigma: 0 })).toThrow(
      /elastic sigma must be > 0/,
    );
    expect(() => validateAugmentation({ ...plain, maxRotation: 15, elasticAlpha: 2 })).not.toThrow();
  });
});
