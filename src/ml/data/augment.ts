import { SeededRandom } from './random';

/** Training-time augmentation; recorded in the model manifest. Off unless asked for. */
export interface AugmentationConfig {
  /** Random translation by up to this many pixels (edge pixels repeat). 0 = off. */
  maxShift: number;
  /** Random horizontal flip. Keep off for data with mirror-pair classes (arrow-left / arrow-right). */
  horizontalFlip: boolean;
}

export const NO_AUGMENTATION: AugmentationConfig = { maxShift: 0, horizontalFlip: false };

export function isAugmenting(config: AugmentationConfig): boolean {
  return config.maxShift > 0 || config.horizontalFlip;
}

/** Augments a batch of NHWC images (in a new array), deterministically for a given random state. */
export function augmentBatch(
  images: Float32Array,
  shape: [number, number, number],
  config: AugmentationConfig,
  random: SeededRandom,
): Float32Array {
  if (!isAugmenting(config)) return images;
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
