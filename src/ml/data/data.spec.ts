import { promises as fs } from 'fs';
import { gzipSync } from 'zlib';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage } from './decode-image';
import { parseIdx } from './idx';
import { loadDataset, trainingClassCount } from './datasets';
import { MPerClassSampler } from './sampler';
import { augmentBatch } from './augment';
import { SeededRandom } from './random';

function idxBytes(type: number, dims: number[], values: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(values)]);
}

async function png(width: number, height: number, rgba: [number, number, number, number]): Promise<Buffer> {
  const [r, g, b, a] = rgba;
  return sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha: a / 255 } } })
    .png()
    .toBuffer();
}

describe('decodeImage', () => {
  it('decodes, resizes and scales to [0,1]', async () => {
    const pixels = await decodeImage(await png(10, 10, [255, 0, 0, 255]), { height: 4, width: 4, channels: 3 });
    expect(pixels).toHaveLength(48);
    expect(pixels[0]).toBeCloseTo(1, 5);
    expect(pixels[1]).toBeCloseTo(0, 5);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
  });

  it('flattens transparency onto white and converts to grey', async () => {
    const pixels = await decodeImage(await png(8, 8, [0, 0, 0, 0]), { height: 8, width: 8, channels: 1 });
    expect(pixels).toHaveLength(64);
    expect(Math.min(...pixels)).toBeCloseTo(1, 5);
  });

  it('is deterministic', async () => {
    const image = await sharp({ create: { width: 37, height: 23, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer();
    const a = await decodeImage(image, { height: 16, width: 16, channels: 3 });
    const b = await decodeImage(image, { height: 16, width: 16, channels: 3 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('rejects non-images, empty and truncated files', async () => {
    const size = { height: 8, width: 8, channels: 3 as const };
    await expect(decodeImage(Buffer.from('hello, not an image'), size)).rejects.toThrow(/cannot decode image/);
    await expect(decodeImage(Buffer.alloc(0), size)).rejects.toThrow(/empty/);
    const full = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    await expect(decodeImage(full.subarray(0, Math.floor(full.length / 2)), size)).rejects.toThrow(/cannot decode image/);
  });
});

describe('parseIdx', () => {
  it('reads plain and gzipped files', () => {
    const raw = idxBytes(0x08, [2, 2], [1, 2, 3, 4]);
    for (const bytes of [raw, gzipSync(raw)]) {
      const idx = parseIdx(bytes);
      expect(idx.dims).toEqual([2, 2]);
      expect([...idx.data]).toEqual([1, 2, 3, 4]);
    }
  });

  it('checks the magic, the type and the dims', () => {
    expect(() => parseIdx(Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]))).toThrow(/not an IDX file/);
    expect(() => parseIdx(idxBytes(0x0d, [1], [0, 0, 0, 0]))).toThrow(/not supported/);
    expect(() => parseIdx(idxBytes(0x08, [3], [1, 2]))).toThrow(/need 3 values but the file holds 2/);
  });
});

describe('loadDataset', () => {
  it('splits MNIST class-disjointly with a seeded validation split', async () => {
    const split = await loadDataset('mnist', { seed: 1, maxTrain: 200, maxValidation: 50, maxTest: 100 });
    expect(split.train.shape).toEqual([28, 28, 1]);
    expect(split.train.labels).toHaveLength(200);
    expect(split.validation.labels).toHaveLength(50);
    expect(split.test.labels).toHaveLength(100);
    expect([...new Set(split.train.labels)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Math.min(...split.test.labels)).toBeGreaterThanOrEqual(5);
    expect(split.train.images.reduce((a, b) => Math.max(a, b), 0)).toBe(1);
    expect(split.description.testClasses).toEqual([5, 6, 7, 8, 9]);
    const again = await loadDataset('mnist', { seed: 1, maxTrain: 200, maxValidation: 50, maxTest: 100 });
    expect(again.train.labels).toEqual(split.train.labels);
    expect(again.train.images.subarray(0, 2000)).toEqual(split.train.images.subarray(0, 2000));
  });

  it('--validation-classes: holds out whole training classes for validation, seeded, never trained on', async () => {
    const options = { seed: 4, maxTrain: 300, maxValidation: 60, maxTest: 50, validationClasses: 2 };
    const split = await loadDataset('mnist', options);
    const held = split.description.validationClasses as number[];
    expect(held).toHaveLength(2);
    held.forEach((digit) => expect([0, 1, 2, 3, 4]).toContain(digit));
    expect([...new Set(split.validation.labels)].sort()).toEqual(held);
    const trained = [...new Set(split.train.labels)].sort();
    expect(trained).toHaveLength(3);
    trained.forEach((digit) => expect(held).not.toContain(digit));
    expect(split.validation.labels).toHaveLength(60);
    expect(split.description.validationFraction).toBeUndefined();
    expect(split.description.testClasses).toEqual([5, 6, 7, 8, 9]);
    // The same seed holds out the same classes; the default split is still a share of every class.
    expect((await loadDataset('mnist', options)).description.validationClasses).toEqual(held);
    const byImages = await loadDataset('mnist', { seed: 4, maxTrain: 300, maxValidation: 60, maxTest: 50 });
    expect([...new Set(byImages.validation.labels)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(byImages.description.validationFraction).toBe(0.1);
    // Too few classes left to train on (MNIST trains on 5), or too few to validate on.
    await expect(loadDataset('mnist', { ...options, validationClasses: 4 })).rejects.toThrow(
      'validationClasses 4 leaves 1 of the 5 training classes to train on (at least 2 needed)',
    );
    await expect(loadDataset('mnist', { ...options, validationClasses: 1 })).rejects.toThrow(
      'validationClasses must be an integer >= 2 (got 1)',
    );
  });

  it("mnist-all: all ten digits, the MNIST train split (less a validation slice) against its whole test split", async () => {
    const counts = (labels: Int32Array): number[] => {
      const out = new Array<number>(10).fill(0);
      for (const label of labels) out[label]++;
      return out;
    };
    const split = await loadDataset('mnist-all', { seed: 0 });
    expect(split.description.trainClasses).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(split.description.testClasses).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(split.test.shape).toEqual([28, 28, 1]);
    // The test set is the t10k file, all of it (its published class counts), not a slice of the train file.
    expect(split.description.counts.test).toBe(10000);
    expect(counts(split.test.labels)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // Training and validation share the 60,000 training images, 10% per class held out for validation.
    expect(split.description.counts.train + split.description.counts.validation).toBe(60000);
    expect(split.description.counts.validation).toBe(6000);
    const trainAndValidation = counts(split.train.labels).map(
      (n, digit) => n + counts(split.validation.labels)[digit],
    );
    expect(trainAndValidation).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    // Its test images of digits 5-9 are the class-disjoint split's test set, in the same order.
    const disjoint = await loadDataset('mnist', { seed: 0, maxTrain: 0, maxValidation: 0 });
    const upper = [...split.test.labels.keys()].filter((i) => split.test.labels[i] >= 5);
    expect(upper).toHaveLength(disjoint.test.labels.length);
    const size = 28 * 28;
    for (const k of [0, 1, upper.length - 1]) {
      expect(split.test.labels[upper[k]]).toBe(disjoint.test.labels[k]);
      expect(split.test.images.subarray(upper[k] * size, (upper[k] + 1) * size)).toEqual(
        disjoint.test.images.subarray(k * size, (k + 1) * size),
      );
    }
    await expect(trainingClassCount('mnist-all')).resolves.toBe(10);
    const limited = await loadDataset('mnist-all', { seed: 1, maxTrain: 300, maxValidation: 40, maxTest: 200 });
    expect(limited.train.labels).toHaveLength(300);
    expect(limited.validation.labels).toHaveLength(40);
    expect(limited.test.labels).toHaveLength(200);
    expect(new Set(limited.train.labels).size).toBe(10);
  });

  it('loads idx:IMAGES,LABELS (gzipped) and splits classes in halves', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'idx-'));
    const n = 12;
    const pixels = Array.from({ length: n * 4 }, (_, i) => i % 256);
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    await fs.writeFile(path.join(dir, 'img.gz'), gzipSync(idxBytes(8, [n, 2, 2], pixels)));
    await fs.writeFile(path.join(dir, 'lab'), idxBytes(8, [n], labels));
    const split = await loadDataset(`idx:${dir}/img.gz,${dir}/lab`, { validationFraction: 0 });
    expect(split.description.trainClasses).toEqual([0, 1]);
    expect(split.description.testClasses).toEqual([2, 3]);
    expect(split.train.labels).toHaveLength(6);
    expect(split.test.shape).toEqual([2, 2, 1]);
    await expect(loadDataset(`idx:${dir}/missing,${dir}/lab`)).rejects.toThrow(/IDX file not found/);
  });

  it('loads folder:PATH and reports bad folders clearly', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'folder-'));
    const colours: [number, number, number, number][] = [
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
      [90, 90, 90, 255],
    ];
    for (const [c, colour] of colours.entries()) {
      await fs.mkdir(path.join(dir, `class${c}`));
      for (let i = 0; i < 3; i++) await fs.writeFile(path.join(dir, `class${c}`, `${i}.png`), await png(5, 5, colour));
    }
    const split = await loadDataset(`folder:${dir}`, {
      imageSize: { height: 8, width: 8, channels: 3 },
      validationFraction: 0,
    });
    expect(split.train.labels).toHaveLength(6);
    expect(split.test.labels).toHaveLength(6);
    expect(split.train.classNames).toEqual(['class0', 'class1', 'class2', 'class3']);
    expect(split.test.images[0]).toBeCloseTo(0, 5); // class2 is blue
    expect(split.test.images[2]).toBeCloseTo(1, 5);

    await fs.writeFile(path.join(dir, 'class3', 'broken.png'), Buffer.from('not a png'));
    await expect(loadDataset(`folder:${dir}`)).rejects.toThrow(/unreadable image .*broken\.png/);
    const warnings: string[] = [];
    const skipped = await loadDataset(`folder:${dir}`, { skipUnreadable: true, onWarning: (m) => warnings.push(m) });
    expect(skipped.description.skipped).toBe(1);
    expect(warnings[0]).toMatch(/broken\.png/);

    await fs.mkdir(path.join(dir, 'class4'));
    await expect(loadDataset(`folder:${dir}`)).rejects.toThrow(/class4 holds no images/);
    await fs.writeFile(path.join(dir, 'class4', 'only.png'), await png(5, 5, [1, 2, 3, 255]));
    await expect(loadDataset(`folder:${dir}`)).rejects.toThrow(/class4 holds a single image/);
    await expect(loadDataset(`folder:${dir}/nope`)).rejects.toThrow(/image folder not found/);
    await expect(loadDataset('cifar')).rejects.toThrow(/unknown data set/);
  });
});

describe('MPerClassSampler', () => {
  it('builds seeded batches of m images per class', () => {
    const labels = Int32Array.from({ length: 40 }, (_, i) => i % 5);
    const sampler = new MPerClassSampler(labels, { batchSize: 8, perClass: 4, seed: 3 });
    const batches = sampler.epoch(0);
    expect(batches).toHaveLength(5);
    for (const batch of batches) {
      const counts = new Map<number, number>();
      for (const index of batch) counts.set(labels[index], (counts.get(labels[index]) ?? 0) + 1);
      expect([...counts.values()]).toEqual([4, 4]);
    }
    expect(sampler.epoch(0)).toEqual(batches);
    expect(sampler.epoch(1)).not.toEqual(batches);
    expect(() => new MPerClassSampler(labels, { batchSize: 9, perClass: 4, seed: 0 })).toThrow(/multiple/);
    expect(() => new MPerClassSampler(labels, { batchSize: 24, perClass: 4, seed: 0 })).toThrow(/needs 6 classes/);
  });
});

describe('augmentBatch', () => {
  it('shifts and flips deterministically and keeps the input when off', () => {
    const image = Float32Array.from({ length: 9 }, (_, i) => i);
    expect(augmentBatch(image, [3, 3, 1], { maxShift: 0, horizontalFlip: false }, new SeededRandom(0))).toBe(image);
    const flipped = augmentBatch(image, [3, 3, 1], { maxShift: 0, horizontalFlip: true }, new SeededRandom(1));
    const isFlip = [...flipped].join() === '2,1,0,5,4,3,8,7,6';
    const isSame = [...flipped].join() === [...image].join();
    expect(isFlip || isSame).toBe(true);
    const a = augmentBatch(image, [3, 3, 1], { maxShift: 1, horizontalFlip: true }, new SeededRandom(5));
    const b = augmentBatch(image, [3, 3, 1], { maxShift: 1, horizontalFlip: true }, new SeededRandom(5));
    expect(a).toEqual(b);
  });
});
