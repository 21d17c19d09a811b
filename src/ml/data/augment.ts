import { SeededRandom } from './random';

/** Training-time augmentation; recorded in the model manifest. Off unless asked for. */
export interface AugmentationConfig {
  /** Random translation by up to this many pixels (edge pixels repeat). 0 = off. */
  maxShift: number;
  /** Random horizontal flip. Keep off for data with mirror-pair classes (arrow-left / arrow-right). */
  horizontalFlip: boolean;
  /** Random rotation by up to this many degrees either way. 0 / absent = off. */
  maxRotation?: number;
  /** Random isotropic scale in [1 - s, 1 + s]. 0 / absent = off. */
  maxScale?: number;
  /**
   * Elastic distortion (Simard et al. 2003): a random displacement field, Gaussian-smoothed with
   * `elasticSigma` pixels (default 4), scaled so its largest displacement is about this many pixels.
   * 0 / absent = off.
   */
  elasticAlpha?: number;
  elasticSigma?: number;
}

export const NO_AUGMENTATION: AugmentationConfig = { maxShift: 0, horizontalFlip: false };

export function isAugmenting(config: AugmentationConfig): boolean {
  return config.maxShift > 0 || config.horizontalFlip || isWarping(config);
}

/** Rotation, scale or elastic distortion: resampled with bilinear interpolation. */
function isWarping(config: AugmentationConfig): boolean {
  return (config.maxRotation ?? 0) > 0 || (config.maxScale ?? 0) > 0 || (config.elasticAlpha ?? 0) > 0;
}

/** Rejects values that cannot be meant (negative amounts, a rotation past a half turn). */
export function validateAugmentation(config: AugmentationConfig): void {
  const check = (name: string, value: number | undefined, max: number) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= max)) {
      throw new Error(`augmentation ${name} must be in [0, ${max}] (got ${value})`);
    }
  };
  check('shift', config.maxShift, 1e6);
  check('rotation', config.maxRotation, 180);
  check('scale', config.maxScale, 0.9);
  check('elastic alpha', config.elasticAlpha, 1e6);
  if (config.elasticSigma !== undefined && !(config.elasticSigma > 0)) {
    throw new Error(`augmentation elastic sigma must be > 0 (got ${config.elasticSigma})`);
  }
}

/** Augments a batch of NHWC images (in a new array), deterministically for a given random state. */
export function augmentBatch(
  images: Float32Array,
  shape: [number, number, number],
  config: AugmentationConfig,
  random: SeededRandom,
): Float32Array {
  if (!isAugmenting(config)) return images;
  if (isWarping(config)) return warpBatch(images, shape, config, random);
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const count = images.length / size;
  const out = new Float32Array(images.length);
  for (let n = 0; n < count; n++) {
    const dy = config.maxShift > 0 ? random.int(2 * config.maxShift + 1) - config.maxShift : 0;
    const dx = config.maxShift > 0 ? random.int(2 * config.maxShift + 1) - config.maxShift : 0;
    const flip = config.horizontalFlip && random.next() < 0.5;
    const base = n * size;
    for (let y = 0; y < height; y++) {
      const sy = Math.min(height - 1, Math.max(0, y - dy));
      for (let x = 0; x < width; x++) {
        const tx = flip ? width - 1 - x : x;
        const sx = Math.min(width - 1, Math.max(0, tx - dx));
        const from = base + (sy * width + sx) * channels;
        const to = base + (y * width + x) * channels;
        for (let c = 0; c < channels; c++) out[to + c] = images[from + c];
      }
    }
  }
  return out;
}

/** A separable, normalised Gaussian blur of a [height, width] field, in place (edges clamped). */
function gaussianBlur(field: Float32Array, height: number, width: number, sigma: number): void {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) total += kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= total;
  const tmp = new Float32Array(field.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] * field[y * width + Math.min(width - 1, Math.max(0, x + k))];
      tmp[y * width + x] = sum;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x];
      field[y * width + x] = sum;
    }
  }
}

/** A smoothed random displacement field whose largest component is `alpha` pixels. */
function elasticField(height: number, width: number, alpha: number, sigma: number, random: SeededRandom): Float32Array {
  const field = new Float32Array(height * width);
  for (let i = 0; i < field.length; i++) field[i] = random.next() * 2 - 1;
  gaussianBlur(field, height, width, sigma);
  let peak = 0;
  for (let i = 0; i < field.length; i++) peak = Math.max(peak, Math.abs(field[i]));
  const factor = peak > 0 ? alpha / peak : 0;
  for (let i = 0; i < field.length; i++) field[i] *= factor;
  return field;
}

/**
 * Shift, flip, rotation and scale about the image centre, and elastic distortion: each output pixel reads
 * its source position with bilinear interpolation (edge pixels repeat, as for plain shifts).
 */
function warpBatch(
  images: Float32Array,
  shape: [number, number, number],
  config: AugmentationConfig,
  random: SeededRandom,
): Float32Array {
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const count = images.length / size;
  const out = new Float32Array(images.length);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  const maxRotation = ((config.maxRotation ?? 0) * Math.PI) / 180;
  const maxScale = config.maxScale ?? 0;
  const alpha = config.elasticAlpha ?? 0;
  const sigma = config.elasticSigma ?? 4;
  for (let n = 0; n < count; n++) {
    const dy = config.maxShift > 0 ? random.int(2 * config.maxShift + 1) - config.maxShift : 0;
    const dx = config.maxShift > 0 ? random.int(2 * config.maxShift + 1) - config.maxShift : 0;
    const flip = config.horizontalFlip && random.next() < 0.5;
    const angle = maxRotation > 0 ? (random.next() * 2 - 1) * maxRotation : 0;
    const scale = maxScale > 0 ? 1 + (random.next() * 2 - 1) * maxScale : 1;
    const fieldY = alpha > 0 ? elasticField(height, width, alpha, sigma, random) : null;
    const fieldX = alpha > 0 ? elasticField(height, width, alpha, sigma, random) : null;
    // Inverse map: output (y, x) reads the source at R(-angle) / scale applied about the centre.
    const cos = Math.cos(angle) / scale;
    const sin = Math.sin(angle) / scale;
    const base = n * size;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const ox = (flip ? width - 1 - x : x) - dx - cx;
        const oy = y - dy - cy;
        let sx = cos * ox + sin * oy + cx;
        let sy = -sin * ox + cos * oy + cy;
        if (fieldY && fieldX) {
          sy += fieldY[y * width + x];
          sx += fieldX[y * width + x];
        }
        sy = Math.min(height - 1, Math.max(0, sy));
        sx = Math.min(width - 1, Math.max(0, sx));
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const y1 = Math.min(height - 1, y0 + 1);
        const x1 = Math.min(width - 1, x0 + 1);
        const fy = sy - y0;
        const fx = sx - x0;
        const to = base + (y * width + x) * channels;
        for (let c = 0; c < channels; c++) {
          const at = (yy: number, xx: number) => images[base + (yy * width + xx) * channels + c];
          out[to + c] =
            (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
        }
      }
    }
  }
  return out;
}
