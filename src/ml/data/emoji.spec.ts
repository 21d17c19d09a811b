import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DatasetSplit } from '../types';
import { loadDataset } from './datasets';
import { EMOJI_ICON_SETS, indexEmoji, loadEmoji, normaliseCodePoints, type EmojiIndex } from './emoji';
import type { RenderedSplitDescription } from './rendered';

let cacheDir: string;
let index: EmojiIndex;
let first: DatasetSplit;

const small = { seed: 5, maxTrain: 20, maxValidation: 3, maxTest: 20, imageSize: { height: 32, width: 32, channels: 3 as const } };

beforeAll(async () => {
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'rir-emoji-'));
  index = indexEmoji(10);
  first = await loadEmoji('emoji:classes=6', { ...small, cacheDir });
});

afterAll(async () => {
  await fs.rm(cacheDir, { recursive: true, force: true });
});

describe('emoji index', () => {
  it('normalises code point sequences', () => {
    expect(normaliseCodePoints('1F636-200D-1F32B-FE0F')).toBe('1f636-200d-1f32b');
    expect(normaliseCodePoints('0023-FE0F-20E3')).toBe('0023-20e3');
  });

  it('keeps base emoji with at least 10 free designs: no flags, components, skin tones or non-free vendors', () => {
    expect(index.emoji.length).toBeGreaterThan(500);
    const vendors = new Set<string>();
    for (const e of index.emoji) {
      expect(e.designs.length).toBeGreaterThanOrEqual(10);
      expect(e.name).not.toMatch(/(^|-)1f3f[b-f]($|-)/); // skin tones
      expect(e.name).not.toMatch(/^1f1[e-f][0-9a-f]-1f1/); // regional-indicator flags
      // One design per vendor.
      expect(new Set(e.designs.map((d) => d.vendor)).size).toBe(e.designs.length);
      for (const d of e.designs) vendors.add(d.vendor);
    }
    expect([...vendors].sort()).toEqual(['google', 'twitter', ...EMOJI_ICON_SETS].sort());
    expect(vendors.has('apple')).toBe(false);
    expect(index.emoji.map((e) => e.name)).toContain('1f600'); // grinning face
    expect(index.emoji.map((e) => e.name)).not.toContain('1f3fb'); // a skin-tone modifier alone
  });

  it('a lower minimum keeps more emoji', () => {
    expect(indexEmoji(6).emoji.length).toBeGreaterThan(index.emoji.length);
  });
});

describe('loadDataset emoji', () => {
  it('splits a few emoji class-disjointly with the shapes and limits asked', () => {
    const d = first.description as RenderedSplitDescription;
    expect(d.trainClasses).toHaveLength(3);
    expect(d.testClasses).toHaveLength(3);
    expect(d.trainClasses.filter((c) => d.testClasses.includes(c))).toEqual([]);
    for (const label of new Set(first.train.labels)) expect(d.trainClasses).toContain(label);
    for (const label of new Set(first.test.labels)) expect(d.testClasses).toContain(label);
    expect(first.train.labels).toHaveLength(20);
    expect(first.test.shape).toEqual([32, 32, 3]);
    expect(first.test.images).toHaveLength(20 * 32 * 32 * 3);
    expect(Math.min(...first.test.images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first.test.images)).toBeLessThanOrEqual(1);
    expect(d.sources).toHaveProperty('emoji-datasource-google');
    expect(d.selection).toMatchObject({ minDesigns: 10, classesUsed: 6 });
    // Colour designs: the channels differ somewhere.
    let colour = 0;
    for (let i = 0; i < first.test.images.length; i += 3) {
      if (Math.abs(first.test.images[i] - first.test.images[i + 2]) > 0.2) colour++;
    }
    expect(colour).toBeGreaterThan(100);
  });

  it('is deterministic and reuses the render cache', async () => {
    const cached = await loadEmoji('emoji:classes=6', { ...small, cacheDir });
    expect(cached.train.labels).toEqual(first.train.labels);
    expect(Buffer.from(cached.train.images.buffer).equals(Buffer.from(first.train.images.buffer))).toBe(true);
    const files = await fs.readdir(path.join(cacheDir, 'emoji', '32x32'));
    expect(files).toContain('manifest.json');
    expect(files.filter((f) => f.endsWith('.rgb')).length).toBeGreaterThanOrEqual(6);
  });

  it('rejects unknown options', async () => {
    await expect(loadDataset('emoji:skin=1')).rejects.toThrow("emoji: unknown option 'skin' (allowed: min-designs, classes)");
    await expect(loadDataset('emoji:min-designs=99,classes=4')).rejects.toThrow('needs at least 2 classes');
  });
});
