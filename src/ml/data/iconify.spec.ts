import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DatasetSplit } from '../types';
import { loadDataset } from './datasets';
import {
  cachedIconConceptIndex,
  isMirrorConcept,
  isNonCommercial,
  loadIconify,
  normaliseIconName,
  readIconSet,
  renderIcon,
  type IconConceptIndex,
} from './iconify';
import type { RenderedSplitDescription } from './rendered';
import { packageVersion, parseSpecOptions, resolvePackageFile } from './rendered';

let cacheDir: string;
let index: IconConceptIndex;

beforeAll(async () => {
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-iconify-'));
  index = await cachedIconConceptIndex(50, packageVersion('@iconify/json', 'test'), cacheDir);
});

afterAll(async () => {
  await fs.rm(cacheDir, { recursive: true, force: true });
});

const small = { seed: 3, maxTrain: 24, maxValidation: 4, maxTest: 24, imageSize: { height: 32, width: 32, channels: 3 as const } };

function classesOf(labels: Int32Array): Set<number> {
  return new Set(labels);
}

describe('iconify concepts', () => {
  it('normalises icon names to concepts', () => {
    expect(normaliseIconName('camera')).toBe('camera');
    expect(normaliseIconName('Camera-Outline')).toBe('camera');
    expect(normaliseIconName('bell-24-filled')).toBe('bell');
    expect(normaliseIconName('check_circle_outline')).toBe('check-circle');
    // A style word alone is a concept of its own (the "bold" text icon).
    expect(normaliseIconName('bold')).toBe('bold');
  });

  it('drops mirror-pair concepts and non-commercial licences', () => {
    expect(isMirrorConcept('arrow-left')).toBe(true);
    expect(isMirrorConcept('chevron-right')).toBe(true);
    expect(isMirrorConcept('undo')).toBe(true);
    expect(isMirrorConcept('arrow-up')).toBe(false);
    expect(isMirrorConcept('camera')).toBe(false);
    expect(isNonCommercial('cbi', 'CC-BY-NC-SA-4.0')).toBe(true);
    expect(isNonCommercial('ps', undefined)).toBe(true);
    expect(isNonCommercial('any', 'CC-BY-NC-4.0')).toBe(true);
    expect(isNonCommercial('mdi', 'Apache-2.0')).toBe(false);
    expect(isNonCommercial('tabler', 'MIT')).toBe(false);
  });

  it('keeps about 200 concepts in at least 50 commercially usable sets, none of them a mirror pair', () => {
    expect(index.concepts.length).toBeGreaterThan(150);
    expect(index.concepts.length).toBeLessThan(260);
    const excluded = index.excludedSets.map((s) => s.prefix);
    expect(excluded).toEqual(expect.arrayContaining(['cbi', 'ps']));
    for (const { license } of index.excludedSets) expect(license).toMatch(/NC/);
    expect(index.mirrorConceptsDropped).toEqual(expect.arrayContaining(['arrow-left', 'arrow-right']));
    const names = new Set(index.concepts.map((c) => c.name));
    for (const concept of index.concepts) {
      expect(concept.icons.length).toBeGreaterThanOrEqual(50);
      expect(isMirrorConcept(concept.name)).toBe(false);
      // One icon per set and no icon from an excluded set.
      expect(new Set(concept.icons.map((i) => i.prefix)).size).toBe(concept.icons.length);
      for (const icon of concept.icons) expect(excluded).not.toContain(icon.prefix);
      // No verbatim copies of one design under two sets.
      expect(new Set(concept.icons.map((i) => i.icon.body)).size).toBe(concept.icons.length);
    }
    expect(names.has('camera')).toBe(true);
    expect(names.has('arrow-left')).toBe(false);
    expect(index.duplicatesDropped).toBeGreaterThan(0);
  });

  it('renders an icon black on white at the size asked', async () => {
    const set = readIconSet('mdi');
    const rgb = await renderIcon(set, 'camera', 24, 40);
    expect(rgb).toHaveLength(24 * 40 * 3);
    const values = [...rgb];
    expect(Math.min(...values)).toBeLessThan(20); // dark strokes
    expect(values[0]).toBe(255); // white corner (the square icon is centred in the wider image)
    const dark = values.filter((v) => v < 128).length / values.length;
    expect(dark).toBeGreaterThan(0.05);
    expect(dark).toBeLessThan(0.6);
  });
});

describe('loadDataset iconify', () => {
  let first: DatasetSplit;

  beforeAll(async () => {
    first = await loadIconify('iconify:classes=6', { ...small, cacheDir });
  });

  it('splits a few classes class-disjointly with the shapes and limits asked', () => {
    const d = first.description as RenderedSplitDescription;
    expect(d.trainClasses).toHaveLength(3);
    expect(d.testClasses).toHaveLength(3);
    expect(d.trainClasses.filter((c) => d.testClasses.includes(c))).toEqual([]);
    for (const set of [first.train, first.validation]) {
      for (const label of classesOf(set.labels)) expect(d.trainClasses).toContain(label);
    }
    for (const label of classesOf(first.test.labels)) expect(d.testClasses).toContain(label);
    expect(first.train.labels).toHaveLength(24);
    expect(first.validation.labels).toHaveLength(4);
    expect(first.test.labels).toHaveLength(24);
    expect(first.train.shape).toEqual([32, 32, 3]);
    expect(first.train.images).toHaveLength(24 * 32 * 32 * 3);
    expect(Math.min(...first.test.images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first.test.images)).toBeLessThanOrEqual(1);
    expect(d.classNames).toHaveLength(6);
    expect(d.sources['@iconify/json']).toBe(packageVersion('@iconify/json', 'test'));
    expect(d.selection).toMatchObject({ minSets: 50, classesUsed: 6 });
    for (const name of d.classNames) expect(isMirrorConcept(name)).toBe(false);
    expect(Object.keys(d.instances)).not.toContain('cbi');
  });

  it('is deterministic: the same split from the cache and from a fresh render', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(cacheDir, 'iconify', '32x32', 'manifest.json'), 'utf8')) as {
      classes: Record<string, unknown>;
    };
    expect(Object.keys(manifest.classes).length).toBeGreaterThan(0);
    const cached = await loadIconify('iconify:classes=6', { ...small, cacheDir });
    const freshDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-iconify-fresh-'));
    try {
      const fresh = await loadIconify('iconify:classes=6', { ...small, cacheDir: freshDir });
      for (const other of [cached, fresh]) {
        expect(other.description).toMatchObject({ trainClasses: first.description.trainClasses, testClasses: first.description.testClasses });
        expect(other.train.labels).toEqual(first.train.labels);
        expect(other.test.labels).toEqual(first.test.labels);
        expect(Buffer.from(other.test.images.buffer).equals(Buffer.from(first.test.images.buffer))).toBe(true);
      }
    } finally {
      await fs.rm(freshDir, { recursive: true, force: true });
    }
  });

  it('goes through loadDataset, honours a grey image size and another seed', async () => {
    const previous = process.env.RIR_DATA_CACHE;
    process.env.RIR_DATA_CACHE = cacheDir;
    try {
      const grey = await loadDataset('iconify:classes=6', { ...small, imageSize: { height: 32, width: 32, channels: 1 } });
      expect(grey.test.shape).toEqual([32, 32, 1]);
      expect(grey.test.images).toHaveLength(24 * 32 * 32);
      const other = await loadDataset('iconify:classes=6', { ...small, seed: 4 });
      expect((other.description as RenderedSplitDescription).classNames).not.toEqual(
        (first.description as RenderedSplitDescription).classNames,
      );
    } finally {
      if (previous === undefined) delete process.env.RIR_DATA_CACHE;
      else process.env.RIR_DATA_CACHE = previous;
    }
  });

  it('rejects unknown options, bad values and missing packages with clear errors', async () => {
    await expect(loadDataset('iconify:colour=1')).rejects.toThrow("iconify: unknown option 'colour' (allowed: min-sets, classes)");
    await expect(loadDataset('iconify:classes=0')).rejects.toThrow('iconify: option classes must be a positive integer');
    await expect(loadIconify('iconify:classes=1', { ...small, cacheDir })).rejects.toThrow('needs at least 2 classes');
    await expect(loadDataset('iconifyx')).rejects.toThrow("unknown data set 'iconifyx'");
    expect(() => parseSpecOptions('emoji:min-designs=x', 'emoji', ['min-designs'])).toThrow('must be a positive integer');
    expect(() => resolvePackageFile('no-such-package-here', 'a.json', 'the test set')).toThrow(
      'the test set needs the npm package no-such-package-here: run npm install',
    );
    expect(() => packageVersion('no-such-package-here', 'the test set')).toThrow('needs the npm package no-such-package-here');
  });
});
