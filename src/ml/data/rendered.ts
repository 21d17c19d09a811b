/**
 * Data sets rendered from installed packages (iconify, emoji): a class-disjoint split over named classes,
 * each class a list of instances (one per icon set or vendor) that render to RGB bytes. Renders are kept in
 * a git-ignored cache, one file per class and size, listed in a manifest, and reused by later runs.
 */
import { promises as fs, readFileSync } from 'fs';
import * as path from 'path';
import type { DatasetSplit, ImageSet, SplitDescription } from '../types';
import type { DecodeOptions } from './decode-image';
import { SeededRandom } from './random';
import { chooseSplitIndices, describeSplit, validationDescription, type SubsetLimits } from './split';

/** One image of a class: `id` names it in the cache manifest (e.g. the icon set), `render` draws it. */
export interface RenderedItem {
  id: string;
  /** Who drew it (icon set, vendor): counted in the split description. */
  instance: string;
  /** RGB bytes, height x width x 3, on a white background. */
  render: (height: number, width: number) => Promise<Uint8Array>;
}

export interface RenderedClass {
  name: string;
  items: RenderedItem[];
}

export interface RenderedLoadOptions extends SubsetLimits {
  seed: number;
  /** Default 64x64 RGB. */
  imageSize?: DecodeOptions;
  validationFraction?: number;
  validationClasses?: number;
  /** Root of the render cache (default: RIR_DATA_CACHE or .cache/datasets under the working directory). */
  cacheDir?: string;
}

/** What a rendered data set adds to the split description: where its images came from and how they were chosen. */
export interface RenderedSplitDescription extends SplitDescription {
  classNames: string[];
  /** Installed packages (name -> version) the images were rendered from. */
  sources: Record<string, string>;
  /** Number of images per instance (icon set / vendor) over the chosen classes. */
  instances: Record<string, number>;
  /** Loader-specific choices (thresholds, exclusions). */
  selection: Record<string, unknown>;
  cache: string;
}

interface CacheManifest {
  dataset: string;
  version: number;
  size: [number, number];
  sources: Record<string, string>;
  classes: Record<string, { file: string; items: string[] }>;
}

const DEFAULT_RENDER_SIZE: DecodeOptions = { height: 64, width: 64, channels: 3 };

/** Bump when the rendering changes, so that old caches are not reused. */
const CACHE_VERSION = 2;

export function defaultCacheDir(): string {
  return process.env.RIR_DATA_CACHE || path.join(process.cwd(), '.cache', 'datasets');
}

/** Parses `name:key=value,key=value` options; unknown keys and non-integers fail with the allowed list. */
export function parseSpecOptions(spec: string, name: string, allowed: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  if (spec === name) return out;
  if (!spec.startsWith(`${name}:`)) throw new Error(`expected ${name}[:key=value,...] (got '${spec}')`);
  for (const part of spec.slice(name.length + 1).split(',')) {
    const [key, value, extra] = part.split('=');
    if (!allowed.includes(key)) {
      throw new Error(`${name}: unknown option '${key}' (allowed: ${allowed.join(', ')})`);
    }
    const n = Number(value);
    if (extra !== undefined || !Number.isInteger(n) || n < 1) {
      throw new Error(`${name}: option ${key} must be a positive integer (got '${value ?? ''}')`);
    }
    out[key] = n;
  }
  return out;
}

/** require.resolve of a package's file with an install hint when the package is missing. */
export function resolvePackageFile(pkg: string, file: string, purpose: string): string {
  try {
    return require.resolve(`${pkg}/${file}`);
  } catch {
    throw new Error(`${purpose} needs the npm package ${pkg}: run npm install (it is in package.json)`);
  }
}

/** The installed version of a package (recorded with the split and the render cache). */
export function packageVersion(pkg: string, purpose: string): string {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    // Packages whose "exports" hide package.json: walk up from the entry point.
    try {
      dir = path.dirname(require.resolve(pkg));
    } catch {
      throw new Error(`${purpose} needs the npm package ${pkg}: run npm install (it is in package.json)`);
    }
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const text = readFileSyncOrNull(path.join(dir, 'package.json'));
    if (!text) continue;
    const json = JSON.parse(text) as { name?: string; version?: string };
    if (json.name === pkg && json.version) return json.version;
  }
  throw new Error(`cannot find the version of the npm package ${pkg}`);
}

function readFileSyncOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Keeps `count` classes chosen by the seed (all when count is undefined), in name order. */
export function pickClasses<T extends { name: string }>(classes: T[], count: number | undefined, seed: number): T[] {
  const sorted = classes.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (count === undefined || count >= sorted.length) return sorted;
  const chosen = new SeededRandom(seed ^ 0x5eed).shuffle(sorted.slice()).slice(0, count);
  return chosen.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Splits the classes (labels = positions in `classes`, which are in name order) in two halves chosen by the
 * seed: the first half trains, the rest tests. Only the images of the chosen subsets are rendered or read.
 */
export async function loadRenderedDataset(
  dataset: string,
  spec: string,
  classes: RenderedClass[],
  sources: Record<string, string>,
  selection: Record<string, unknown>,
  options: RenderedLoadOptions,
): Promise<DatasetSplit> {
  const { seed } = options;
  const size = options.imageSize ?? DEFAULT_RENDER_SIZE;
  if (classes.length < 2) throw new Error(`${spec}: needs at least 2 classes for a class-disjoint split (found ${classes.length})`);
  const labels: number[] = [];
  const owner: { cls: number; item: number }[] = [];
  classes.forEach((cls, label) =>
    cls.items.forEach((_, item) => {
      labels.push(label);
      owner.push({ cls: label, item });
    }),
  );
  const all = Int32Array.from(labels);
  const order = new SeededRandom(seed).shuffle(classes.map((_, i) => i));
  const half = Math.ceil(classes.length / 2);
  const trainClasses = order.slice(0, half).sort((a, b) => a - b);
  const testClasses = order.slice(half).sort((a, b) => a - b);
  const random = new SeededRandom(seed);
  const chosen = chooseSplitIndices(all, trainClasses, testClasses, options, random);
  const needed = new Set<number>();
  for (const list of Object.values(chosen)) for (const i of list) needed.add(owner[i].cls);
  const cacheRoot = options.cacheDir ?? defaultCacheDir();
  const cache = new RenderCache(path.join(cacheRoot, dataset, `${size.height}x${size.width}`), dataset, size, sources);
  const pixelsOf = await cache.load(
    [...needed].sort((a, b) => a - b).map((i) => classes[i]),
  );
  const classNames = classes.map((cls) => cls.name);
  const imageSize = size.height * size.width * size.channels;
  const gather = (indices: number[]): ImageSet => {
    const images = new Float32Array(indices.length * imageSize);
    indices.forEach((index, n) => {
      const { cls, item } = owner[index];
      const rgb = pixelsOf.get(classes[cls].name)!;
      const from = item * size.height * size.width * 3;
      const to = n * imageSize;
      if (size.channels === 3) {
        for (let j = 0; j < imageSize; j++) images[to + j] = rgb[from + j] / 255;
      } else {
        // Grey as sharp's greyscale does it (Rec. 709 luma), for the single-channel small CNN.
        for (let p = 0; p < imageSize; p++) {
          const q = from + p * 3;
          images[to + p] = (0.2126 * rgb[q] + 0.7152 * rgb[q + 1] + 0.0722 * rgb[q + 2]) / 255;
        }
      }
    });
    return {
      images,
      labels: Int32Array.from(indices.map((i) => all[i])),
      shape: [size.height, size.width, size.channels],
      classNames,
    };
  };
  const sets = { train: gather(chosen.train), validation: gather(chosen.validation), test: gather(chosen.test) };
  const instances: Record<string, number> = {};
  for (const list of Object.values(chosen)) {
    for (const i of list) {
      const id = classes[owner[i].cls].items[owner[i].item].instance;
      instances[id] = (instances[id] ?? 0) + 1;
    }
  }
  const limits: SubsetLimits = {};
  if (options.maxTrain !== undefined) limits.maxTrain = options.maxTrain;
  if (options.maxValidation !== undefined) limits.maxValidation = options.maxValidation;
  if (options.maxTest !== undefined) limits.maxTest = options.maxTest;
  const description: RenderedSplitDescription = {
    ...describeSplit(spec, seed, trainClasses, testClasses, sets, {
      ...validationDescription(options, chosen.validationClasses),
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
    }),
    classNames,
    sources,
    instances,
    selection,
    cache: cache.dir,
  };
  return { name: spec, ...sets, description };
}

/** One raw RGB file per class (its items in order) and a manifest of what was rendered from which sources. */
class RenderCache {
  constructor(
    readonly dir: string,
    private readonly dataset: string,
    private readonly size: DecodeOptions,
    private readonly sources: Record<string, string>,
  ) {}

  async load(classes: RenderedClass[]): Promise<Map<string, Uint8Array>> {
    const manifest = await this.readManifest();
    const out = new Map<string, Uint8Array>();
    const bytesPerImage = this.size.height * this.size.width * 3;
    let changed = false;
    for (const cls of classes) {
      const ids = cls.items.map((item) => item.id);
      const entry = manifest.classes[cls.name];
      if (entry && entry.items.join('\n') === ids.join('\n')) {
        const data = await fs.readFile(path.join(this.dir, entry.file)).catch(() => null);
        if (data && data.length === ids.length * bytesPerImage) {
          out.set(cls.name, new Uint8Array(data.buffer, data.byteOffset, data.length));
          continue;
        }
      }
      const data = new Uint8Array(ids.length * bytesPerImage);
      for (let i = 0; i < cls.items.length; i++) {
        const rgb = await cls.items[i].render(this.size.height, this.size.width);
        if (rgb.length !== bytesPerImage) {
          throw new Error(`${this.dataset}: ${cls.name}/${cls.items[i].id} rendered ${rgb.length} bytes, expected ${bytesPerImage}`);
        }
        data.set(rgb, i * bytesPerImage);
      }
      const file = `${safeFileName(cls.name)}.rgb`;
      await writeAtomic(path.join(this.dir, file), data);
      manifest.classes[cls.name] = { file, items: ids };
      out.set(cls.name, data);
      changed = true;
    }
    if (changed) {
      // Merge with entries another process may have added meanwhile, then replace the manifest atomically.
      const latest = await this.readManifest();
      latest.classes = { ...latest.classes, ...manifest.classes };
      await writeAtomic(path.join(this.dir, 'manifest.json'), Buffer.from(`${JSON.stringify(latest, null, 1)}\n`));
    }
    return out;
  }

  private async readManifest(): Promise<CacheManifest> {
    const fresh: CacheManifest = {
      dataset: this.dataset,
      version: CACHE_VERSION,
      size: [this.size.height, this.size.width],
      sources: this.sources,
      classes: {},
    };
    const text = await fs.readFile(path.join(this.dir, 'manifest.json'), 'utf8').catch(() => null);
    if (!text) return fresh;
    try {
      const old = JSON.parse(text) as CacheManifest;
      // Another package version or renderer: render again rather than mix images.
      if (old.version !== CACHE_VERSION || JSON.stringify(old.sources) !== JSON.stringify(this.sources)) return fresh;
      return { ...fresh, classes: old.classes ?? {} };
    } catch {
      return fresh;
    }
  }
}

function safeFileName(name: string): string {
  return name.replace(/[^a-zA-Z0-9._-]/g, '_');
}

async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(temp, data);
  await fs.rename(temp, file);
}
