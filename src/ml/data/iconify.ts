/**
 * The `iconify` data set: icon concepts drawn by many icon sets (npm @iconify/json). Class = normalised
 * icon name ("camera", "bell"), instance = the icon set that draws it, one image per set and concept.
 * Like CUB-200 in shape: about 200 classes of about 75 images, each class drawn in very different styles.
 */
import { promises as fs, readFileSync, readdirSync } from 'fs';
import * as path from 'path';
import type { DatasetSplit } from '../types';
import { decodeImage } from './decode-image';
import {
  defaultCacheDir,
  loadRenderedDataset,
  packageVersion,
  parseSpecOptions,
  pickClasses,
  resolvePackageFile,
  type RenderedClass,
  type RenderedLoadOptions,
} from './rendered';

export interface IconJson {
  body: string;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
  hidden?: boolean;
  rotate?: number;
  hFlip?: boolean;
  vFlip?: boolean;
}

export interface IconSetJson {
  prefix: string;
  info?: { name?: string; license?: { title?: string; spdx?: string } };
  icons: Record<string, IconJson>;
  chars?: Record<string, string>;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
}

const PACKAGE = '@iconify/json';
export const ICONIFY_DEFAULT_MIN_SETS = 50;

/** Style words that end icon names ("camera-outline", "bell-24-filled"): the concept is the name without them. */
const STYLE_SUFFIXES = new Set([
  'outline',
  'outlined',
  'line',
  'solid',
  'fill',
  'filled',
  'bold',
  'duotone',
  'thin',
  'light',
  'regular',
  'sharp',
  'rounded',
  'twotone',
  'o',
  'alt',
  'linear',
  'broken',
  'bulk',
]);

/**
 * Words of direction or of an action and its mirror image ("arrow-left", "undo"): a horizontal flip turns such
 * an icon into another concept, so these concepts are left out and flip augmentation never changes a label.
 */
export const MIRROR_TOKENS = new Set([
  'left',
  'right',
  'ltr',
  'rtl',
  'undo',
  'redo',
  'back',
  'forward',
  'next',
  'previous',
  'prev',
  'rewind',
  'cw',
  'ccw',
  'clockwise',
  'counterclockwise',
  'anticlockwise',
  'indent',
  'outdent',
  'east',
  'west',
]);

/** "Camera_Outline-24" -> "camera": lower case, style words and sizes dropped from the end. */
export function normaliseIconName(name: string): string {
  const tokens = name.toLowerCase().split(/[-_]/);
  while (tokens.length > 1) {
    const last = tokens[tokens.length - 1];
    if (!STYLE_SUFFIXES.has(last) && !/^\d+$/.test(last)) break;
    tokens.pop();
  }
  return tokens.join('-');
}

export function isMirrorConcept(concept: string): boolean {
  return concept.split('-').some((token) => MIRROR_TOKENS.has(token));
}

/** Non-commercial licences (CC-BY-NC-*, and the sets known to carry them) are never used. */
export function isNonCommercial(prefix: string, spdx: string | undefined): boolean {
  return prefix === 'cbi' || prefix === 'ps' || /(^|-)NC(-|$)/i.test(spdx ?? '');
}

export function iconifyJsonDir(purpose = 'the iconify data set'): string {
  return path.join(path.dirname(resolvePackageFile(PACKAGE, 'collections.json', purpose)), 'json');
}

export function readIconSet(prefix: string, purpose?: string): IconSetJson {
  const file = path.join(iconifyJsonDir(purpose), `${prefix}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as IconSetJson;
  } catch (error) {
    throw new Error(`cannot read icon set ${prefix} (${file}): ${(error as Error).message}`);
  }
}

/** The SVG of one icon: its view box fitted into height x width (centred), currentColor drawn black. */
export function iconSvg(set: IconSetJson, name: string, height: number, width: number): string {
  const icon = set.icons[name];
  if (!icon) throw new Error(`icon set ${set.prefix} has no icon '${name}'`);
  const w = icon.width ?? set.width ?? 16;
  const h = icon.height ?? set.height ?? 16;
  const left = icon.left ?? set.left ?? 0;
  const top = icon.top ?? set.top ?? 0;
  const body = icon.body.replace(/currentColor/g, '#000');
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="${left} ${top} ${w} ${h}">${body}</svg>`;
}

/**
 * Renders an icon on white: RGB bytes, height x width x 3. Through sharp (librsvg), the decoder the service
 * uses for an uploaded SVG, so that training and serving see the same pixels. (@resvg/resvg-js is 10x faster
 * but aborts the whole process, uncatchably, on some Noto icons: a panic in its geometry code.)
 */
export async function renderIcon(set: IconSetJson, name: string, height: number, width: number): Promise<Uint8Array> {
  let pixels: Float32Array;
  try {
    pixels = await decodeImage(Buffer.from(iconSvg(set, name, height, width)), { height, width, channels: 3 });
  } catch (error) {
    throw new Error(`cannot render icon ${set.prefix}:${name}: ${(error as Error).message}`);
  }
  return Uint8Array.from(pixels, (x) => Math.round(x * 255));
}

/** Icons a flip or rotation attribute would draw differently from their body are not used. */
function usable(icon: IconJson): boolean {
  return !icon.hidden && !icon.rotate && !icon.hFlip && !icon.vFlip && typeof icon.body === 'string';
}

/** Prefers the plain name ("camera" over "camera-outline"), then the shorter, then the first alphabetically. */
function better(a: string, b: string): boolean {
  const ta = a.split(/[-_]/).length;
  const tb = b.split(/[-_]/).length;
  if (ta !== tb) return ta < tb;
  if (a.length !== b.length) return a.length < b.length;
  return a < b;
}

/** One icon kept from a set: its name and its body with the set's defaults resolved. */
export interface ChosenIcon {
  prefix: string;
  name: string;
  icon: IconJson;
}

export interface IconConcept {
  name: string;
  /** The icon that draws the concept in each set, in set order. */
  icons: ChosenIcon[];
}

export interface IconConceptIndex {
  concepts: IconConcept[];
  /** Icon sets read, and those left out for their licence. */
  sets: string[];
  excludedSets: { prefix: string; license: string }[];
  mirrorConceptsDropped: string[];
  /** Icons left out because another set of the same concept has the identical SVG. */
  duplicatesDropped: number;
}

/**
 * Reads every icon set of the package (except non-commercial ones) and keeps the concepts drawn by at least
 * `minSets` sets, mirror-pair concepts left out. Deterministic: sets and names are visited in sorted order.
 */
export function indexIconConcepts(minSets: number, prefixes?: string[]): IconConceptIndex {
  const dir = iconifyJsonDir();
  const all = prefixes ?? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  // First pass: names only (the bodies of all 390k icons would not fit comfortably in memory).
  const byConcept = new Map<string, Map<string, string>>();
  const sets: string[] = [];
  const excludedSets: { prefix: string; license: string }[] = [];
  for (const prefix of all.slice().sort()) {
    const set = readIconSet(prefix);
    const spdx = set.info?.license?.spdx ?? set.info?.license?.title ?? '';
    if (isNonCommercial(prefix, spdx)) {
      excludedSets.push({ prefix, license: spdx });
      continue;
    }
    sets.push(prefix);
    for (const name of Object.keys(set.icons).sort()) {
      if (!usable(set.icons[name])) continue;
      const concept = normaliseIconName(name);
      const icons = byConcept.get(concept) ?? new Map<string, string>();
      const current = icons.get(prefix);
      if (current === undefined || better(name, current)) icons.set(prefix, name);
      byConcept.set(concept, icons);
    }
  }
  const kept: [string, Map<string, string>][] = [];
  const mirrorConceptsDropped: string[] = [];
  for (const [name, icons] of [...byConcept].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (icons.size < minSets) continue;
    if (isMirrorConcept(name)) mirrorConceptsDropped.push(name);
    else kept.push([name, icons]);
  }
  // Second pass: the bodies of the kept icons, with the set's defaults resolved.
  const wanted = new Map<string, Set<string>>();
  for (const [, icons] of kept) {
    for (const [prefix, name] of icons) wanted.set(prefix, (wanted.get(prefix) ?? new Set()).add(name));
  }
  const bodies = new Map<string, IconJson>();
  for (const prefix of [...wanted.keys()].sort()) {
    const set = readIconSet(prefix);
    for (const name of wanted.get(prefix)!) {
      const icon = set.icons[name];
      bodies.set(`${prefix}:${name}`, {
        body: icon.body,
        width: icon.width ?? set.width ?? 16,
        height: icon.height ?? set.height ?? 16,
        left: icon.left ?? set.left ?? 0,
        top: icon.top ?? set.top ?? 0,
      });
    }
  }
  // Sets that copy another set's icon verbatim add no new design: keep the first copy, then re-apply the threshold.
  const concepts: IconConcept[] = [];
  let duplicatesDropped = 0;
  for (const [concept, icons] of kept) {
    const seen = new Set<string>();
    const chosen: ChosenIcon[] = [];
    for (const [prefix, name] of icons) {
      const icon = bodies.get(`${prefix}:${name}`)!;
      const key = `${icon.width}x${icon.height}|${icon.body.replace(/\s+/g, ' ')}`;
      if (seen.has(key)) {
        duplicatesDropped++;
        continue;
      }
      seen.add(key);
      chosen.push({ prefix, name, icon });
    }
    if (chosen.length >= minSets) concepts.push({ name: concept, icons: chosen });
  }
  return { concepts, sets, excludedSets, mirrorConceptsDropped, duplicatesDropped };
}

const indexMemo = new Map<string, IconConceptIndex>();

/**
 * indexIconConcepts, kept in the render cache (reading all sets takes seconds) and in memory: keyed by the
 * package version, the threshold and the index format.
 */
export async function cachedIconConceptIndex(minSets: number, version: string, cacheRoot: string): Promise<IconConceptIndex> {
  const file = path.join(cacheRoot, 'iconify', `index-v${INDEX_VERSION}-${version}-min${minSets}.json`);
  const key = `${version}-${minSets}`;
  const memo = indexMemo.get(key);
  if (memo) return memo;
  let index: IconConceptIndex | null = null;
  try {
    index = JSON.parse(await fs.readFile(file, 'utf8')) as IconConceptIndex;
  } catch {
    index = null;
  }
  if (!index) {
    index = indexIconConcepts(minSets);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temp, JSON.stringify(index));
    await fs.rename(temp, file);
  }
  indexMemo.set(key, index);
  return index;
}

/** Bump when the concept rules (suffixes, mirror words, licence filter) change. */
const INDEX_VERSION = 2;

export const ICONIFY_OPTIONS = ['min-sets', 'classes'];

/**
 * Loads `iconify[:min-sets=N,classes=K]`: concepts in at least N icon sets (default 50), optionally only K of
 * them (chosen by the seed; fast runs and tests), split class-disjointly in halves chosen by the seed.
 */
export async function loadIconify(
  spec: string,
  options: RenderedLoadOptions,
): Promise<DatasetSplit> {
  const parsed = parseSpecOptions(spec, 'iconify', ICONIFY_OPTIONS);
  const minSets = parsed['min-sets'] ?? ICONIFY_DEFAULT_MIN_SETS;
  const version = packageVersion(PACKAGE, 'the iconify data set');
  const sharpVersion = packageVersion('sharp', 'rendering the iconify data set');
  const index = await cachedIconConceptIndex(minSets, version, options.cacheDir ?? defaultCacheDir());
  const concepts = pickClasses(index.concepts, parsed.classes, options.seed);
  const classes: RenderedClass[] = concepts.map((concept) => ({
    name: concept.name,
    items: concept.icons.map((chosen) => ({
      id: `${chosen.prefix}:${chosen.name}`,
      instance: chosen.prefix,
      render: (height: number, width: number) =>
        Promise.resolve(renderIcon({ prefix: chosen.prefix, icons: { [chosen.name]: chosen.icon } }, chosen.name, height, width)),
    })),
  }));
  return loadRenderedDataset(
    'iconify',
    spec,
    classes,
    { [PACKAGE]: version, sharp: sharpVersion },
    {
      minSets,
      concepts: index.concepts.length,
      classesUsed: concepts.length,
      setsRead: index.sets.length,
      excludedSets: index.excludedSets,
      mirrorConceptsDropped: index.mirrorConceptsDropped,
      duplicatesDropped: index.duplicatesDropped,
    },
    options,
  );
}
