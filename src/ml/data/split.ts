import type { ImageSet, SplitDescription } from '../types';
import { SeededRandom } from './random';

/** Pixels of a whole data set before splitting: bytes 0..255 (IDX) or floats in [0,1] (decoded). */
export interface PixelSource {
  pixels: Uint8Array | Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
}

export interface SubsetLimits {
  maxTrain?: number;
  maxValidation?: number;
  maxTest?: number;
}

/** Copies the chosen items of a source into an ImageSet with pixels in [0,1]. */
export function gatherImages(source: PixelSource, indices: ArrayLike<number>, classNames?: string[]): ImageSet {
  const size = source.shape[0] * source.shape[1] * source.shape[2];
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  const scale = source.pixels instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i] * size;
    const to = i * size;
    for (let j = 0; j < size; j++) images[to + j] = source.pixels[from + j] * scale;
    labels[i] = source.labels[indices[i]];
  }
  return { images, labels, shape: [...source.shape], classNames };
}

/** Indices of items whose label is in `classes`, in file order. */
export function indicesOfClasses(labels: Int32Array, classes: number[]): number[] {
  const wanted = new Set(classes);
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (wanted.has(labels[i])) out.push(i);
  return out;
}

/**
 * Splits the indices of the training classes into train and validation, stratified per class, seeded.
 * Every class keeps at least two training images (a positive pair) when it has them.
 */
export function splitValidation(
  labels: Int32Array,
  indices: number[],
  fraction: number,
  random: SeededRandom,
): { train: number[]; validation: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction must be in [0, 1) (got ${fraction})`);
  const byClass = new Map<number, number[]>();
  for (const index of indices) {
    const list = byClass.get(labels[index]) ?? [];
    list.push(index);
    byClass.set(labels[index], list);
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = random.shuffle(byClass.get(label)!.slice());
    const held = Math.min(Math.round(members.length * fraction), Math.max(0, members.length - 2));
    validation.push(...members.slice(0, held));
    train.push(...members.slice(held));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

/** How the training classes' images are divided between training and validation. */
export interface ValidationSplitOptions {
  /** Share of each training class's images held out (default 0.1). */
  validationFraction?: number;
  /**
   * Hold out this many whole training classes instead (all their images): validation then measures
   * retrieval of classes the model never trained on, as the test split does. At least 2, and at least
   * 2 classes must remain to train on.
   */
  validationClasses?: number;
}

/** A validation split by classes needs at least two classes (retrieval within one class is trivial). */
export function checkValidationClasses(count: number): void {
  if (!Number.isInteger(count) || count < 2)
    throw new Error(`validationClasses must be an integer >= 2 (got ${count})`);
}

/**
 * The training classes' indices split into train and validation, by images (a share of every class) or
 * by classes (whole classes held out, seeded). Returns the validation classes when split by classes.
 */
export function splitTrainValidation(
  labels: Int32Array,
  trainClasses: number[],
  options: ValidationSplitOptions,
  random: SeededRandom,
): { train: number[]; validation: number[]; validationClasses?: number[] } {
  const pool = indicesOfClasses(labels, trainClasses);
  const count = options.validationClasses;
  if (count === undefined) {
    const fraction = options.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
    return splitValidation(labels, pool, fraction, random);
  }
  checkValidationClasses(count);
  if (trainClasses.length - count < 2)
    throw new Error(
      `validationClasses ${count} leaves ${trainClasses.length - count} of the ${trainClasses.length} training classes to train on (at least 2 needed)`,
    );
  const held = new Set(random.shuffle([...trainClasses].sort((a, b) => a - b)).slice(0, count));
  return {
    train: pool.filter((i) => !held.has(labels[i])),
    validation: pool.filter((i) => held.has(labels[i])),
    validationClasses: [...held].sort((a, b) => a - b),
  };
}

/** A seeded random subset of at most `limit` indices (all of them when limit is undefined). */
export function limitIndices(indices: number[], limit: number | undefined, random: SeededRandom): number[] {
  if (limit === undefined || limit >= indices.length) return indices;
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`subset limit must be a non-negative integer (got ${limit})`);
  return random
    .shuffle(indices.slice())
    .slice(0, limit)
    .sort((a, b) => a - b);
}

export function describeSplit(
  dataset: string,
  seed: number,
  trainClasses: number[],
  testClasses: number[],
  sets: { train: ImageSet; validation: ImageSet; test: ImageSet },
  extra: Partial<SplitDescription> = {},
): SplitDescription {
  return {
    dataset,
    seed,
    trainClasses,
    testClasses,
    counts: { train: sets.train.labels.length, validation: sets.validation.labels.length, test: sets.test.labels.length },
    imageShape: sets.train.shape,
    ...extra,
  };
}

/** The chosen items of an ImageSet, copied (batches, subsets). */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  return gatherImages({ pixels: set.images, labels: set.labels, shape: set.shape }, indices, set.classNames);
}

/** Share of the training-class images held out for early stopping unless a caller says otherwise. */
export const DEFAULT_VALIDATION_FRACTION = 0.1;

/**
 * Picks the images of a class-disjoint split: a validation share of the training classes, then the
 * subset limits, all from one seeded stream (the order of draws fixes the split for a seed).
 */
export function chooseSplitIndices(
  labels: Int32Array,
  trainClasses: number[],
  testClasses: number[],
  options: SubsetLimits & ValidationSplitOptions,
  random: SeededRandom,
): { train: number[]; validation: number[]; test: number[]; validationClasses?: number[] } {
  const split = splitTrainValidation(labels, trainClasses, options, random);
  return {
    train: limitIndices(split.train, options.maxTrain, random),
    validation: limitIndices(split.validation, options.maxValidation, random),
    test: limitIndices(indicesOfClasses(labels, testClasses), options.maxTest, random),
    ...(split.validationClasses ? { validationClasses: split.validationClasses } : {}),
  };
}

/** What a split description says of its validation set. */
export function validationDescription(
  options: ValidationSplitOptions,
  validationClasses: number[] | undefined,
): { validationFraction?: number; validationClasses?: number[] } {
  return validationClasses
    ? { validationClasses }
    : { validationFraction: options.validationFraction ?? DEFAULT_VALIDATION_FRACTION };
}
