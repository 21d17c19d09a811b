/**
 * The `emoji` data set: the same emoji drawn by different vendors. Class = emoji code point sequence
 * (base emoji only: no skin-tone variants, no flags, no components), instance = one vendor's design.
 * Designs: Google (Noto) and Twitter (Twemoji) 64x64 PNGs from npm emoji-datasource-*, and the freely
 * licensed emoji sets inside @iconify/json, mapped to code points through their `chars` maps or names.
 * Fine-grained like SOP / CARS: many classes of about ten images.
 */
import { promises as fs, readFileSync } from 'fs';
import * as path from 'path';
import type { DatasetSplit } from '../types';
import { decodeImage } from './decode-image';
import { readIconSet, renderIcon, type IconSetJson } from './iconify';
import {
  loadRenderedDataset,
  packageVersion,
  parseSpecOptions,
  pickClasses,
  resolvePackageFile,
  type RenderedClass,
  type RenderedItem,
  type RenderedLoadOptions,
} from './rendered';

interface EmojiDatasourceEntry {
  name: string | null;
  unified: string;
  image: string;
  short_names: string[];
  category: string;
  has_img_google?: boolean;
  has_img_twitter?: boolean;
}

export const EMOJI_DEFAULT_MIN_DESIGNS = 10;
export const EMOJI_OPTIONS = ['min-designs', 'classes'];

/** PNG vendors (npm emoji-datasource-<vendor>, Apache-2.0 and CC-BY-4.0). Apple and Facebook are not free. */
export const EMOJI_PNG_VENDORS = ['google', 'twitter'] as const;

/**
 * Freely licensed emoji sets inside @iconify/json. Iconify's `noto` and `twemoji` are left out: they are the
 * same designs as the Google and Twitter PNGs.
 */
export const EMOJI_ICON_SETS = [
  'fluent-emoji',
  'fluent-emoji-flat',
  'fluent-emoji-high-contrast',
  'noto-v1',
  'emojione',
  'emojione-v1',
  'emojione-monotone',
  'fxemoji',
  'streamline-emojis',
  'openmoji',
];

/** Sets whose `chars` maps name the other sets' icons too (they share emoji names). */
const NAME_SOURCES = ['fluent-emoji-flat', 'fluent-emoji-high-contrast', 'openmoji', 'noto', 'twemoji'];

const EXCLUDED_CATEGORIES = new Set(['Flags', 'Component']);

/** "1F636-200D-1F32B-FE0F" -> "1f636-200d-1f32b": lower case, variation selectors dropped. */
export function normaliseCodePoints(unified: string): string {
  return unified
    .toLowerCase()
    .split('-')
    .filter((part) => part !== 'fe0f' && part !== 'fe0e')
    .join('-');
}

const SKIN_TONES = /(^|-)1f3f[b-f]($|-)/;

function nameKeys(name: string): string[] {
  const hyphenated = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return [hyphenated, hyphenated.replace(/-/g, '')];
}

export interface EmojiDesign {
  vendor: string;
  /** PNG file (emoji-datasource vendors) or icon name (iconify sets). */
  source: string;
}

export interface EmojiIndex {
  emoji: { name: string; label: string; designs: EmojiDesign[] }[];
  /** Designs found per vendor over all base emoji (before the minimum is applied). */
  perVendor: Record<string, number>;
  baseEmoji: number;
}

/** Maps every vendor's designs to base emoji code points; keeps the emoji with at least `minDesigns`. */
export function indexEmoji(minDesigns: number): EmojiIndex {
  const purpose = 'the emoji data set';
  const list = JSON.parse(
    readFileSync(resolvePackageFile('emoji-datasource', 'emoji.json', purpose), 'utf8'),
  ) as EmojiDatasourceEntry[];
  const base = new Map<string, { label: string; designs: EmojiDesign[] }>();
  const byName = new Map<string, string>();
  const addName = (name: string, key: string) => {
    for (const k of nameKeys(name)) if (!byName.has(k)) byName.set(k, key);
  };
  for (const entry of list) {
    if (EXCLUDED_CATEGORIES.has(entry.category)) continue;
    const key = normaliseCodePoints(entry.unified);
    if (SKIN_TONES.test(key) || base.has(key)) continue;
    const designs: EmojiDesign[] = [];
    for (const vendor of EMOJI_PNG_VENDORS) {
      if (entry[`has_img_${vendor}`]) designs.push({ vendor, source: entry.image });
    }
    base.set(key, { label: entry.short_names[0] ?? entry.name ?? key, designs });
  }
  const sets = new Map<string, IconSetJson>();
  for (const prefix of [...new Set([...NAME_SOURCES, ...EMOJI_ICON_SETS])]) sets.set(prefix, readIconSet(prefix, purpose));
  for (const prefix of NAME_SOURCES) {
    for (const [cp, name] of Object.entries(sets.get(prefix)!.chars ?? {})) addName(name, normaliseCodePoints(cp));
  }
  for (const entry of list) {
    const key = normaliseCodePoints(entry.unified);
    if (entry.name) addName(entry.name, key);
    for (const short of entry.short_names) addName(short, key);
  }
  const perVendor: Record<string, number> = {};
  for (const vendor of EMOJI_PNG_VENDORS) perVendor[vendor] = [...base.values()].filter((e) => e.designs.some((d) => d.vendor === vendor)).length;
  for (const prefix of EMOJI_ICON_SETS) {
    const set = sets.get(prefix)!;
    // A set with a chars map says which code point each icon draws; otherwise match its names.
    const pairs: [string | undefined, string][] = set.chars
      ? Object.entries(set.chars).map(([cp, name]) => [normaliseCodePoints(cp), name])
      : Object.keys(set.icons)
          .sort()
          .map((name) => [nameKeys(name).map((k) => byName.get(k)).find((k) => k !== undefined), name]);
    const seen = new Set<string>();
    for (const [key, name] of pairs) {
      const icon = set.icons[name];
      if (!key || seen.has(key) || !base.has(key) || !icon || icon.hidden || icon.rotate || icon.hFlip || icon.vFlip) continue;
      seen.add(key);
      base.get(key)!.designs.push({ vendor: prefix, source: name });
    }
    perVendor[prefix] = seen.size;
  }
  const emoji = [...base]
    .filter(([, e]) => e.designs.length >= minDesigns)
    .map(([name, e]) => ({ name, label: e.label, designs: e.designs }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return { emoji, perVendor, baseEmoji: base.size };
}

/**
 * Loads `emoji[:min-designs=N,classes=K]`: base emoji with at least N designs (default 10), optionally only K
 * of them (chosen by the seed), split class-disjointly in halves chosen by the seed.
 */
export async function loadEmoji(
  spec: string,
  options: RenderedLoadOptions,
): Promise<DatasetSplit> {
  const parsed = parseSpecOptions(spec, 'emoji', EMOJI_OPTIONS);
  const minDesigns = parsed['min-designs'] ?? EMOJI_DEFAULT_MIN_DESIGNS;
  const purpose = 'the emoji data set';
  const sources: Record<string, string> = {};
  for (const pkg of ['emoji-datasource', 'emoji-datasource-google', 'emoji-datasource-twitter', '@iconify/json', 'sharp']) {
    sources[pkg] = packageVersion(pkg, purpose);
  }
  const index = indexEmoji(minDesigns);
  const chosen = pickClasses(index.emoji, parsed.classes, options.seed);
  const sets = new Map<string, IconSetJson>();
  const iconSet = (prefix: string) => {
    let set = sets.get(prefix);
    if (!set) {
      set = readIconSet(prefix, purpose);
      sets.set(prefix, set);
    }
    return set;
  };
  const pngDirs = new Map<string, string>();
  const pngDir = (vendor: string) => {
    let dir = pngDirs.get(vendor);
    if (!dir) {
      dir = path.join(path.dirname(resolvePackageFile(`emoji-datasource-${vendor}`, 'package.json', purpose)), 'img', vendor, '64');
      pngDirs.set(vendor, dir);
    }
    return dir;
  };
  const item = (design: EmojiDesign): RenderedItem => {
    const png = (EMOJI_PNG_VENDORS as readonly string[]).includes(design.vendor);
    return {
      id: `${design.vendor}:${design.source}`,
      instance: design.vendor,
      render: png
        ? async (height, width) => {
            const file = path.join(pngDir(design.vendor), design.source);
            const pixels = await decodeImage(await fs.readFile(file), { height, width, channels: 3 });
            return Uint8Array.from(pixels, (x) => Math.round(x * 255));
          }
        : (height, width) => renderIcon(iconSet(design.vendor), design.source, height, width),
    };
  };
  const classes: RenderedClass[] = chosen.map((e) => ({ name: e.name, items: e.designs.map(item) }));
  return loadRenderedDataset(
    'emoji',
    spec,
    classes,
    sources,
    {
      minDesigns,
      baseEmoji: index.baseEmoji,
      emojiWithMinDesigns: index.emoji.length,
      classesUsed: chosen.length,
      designsPerVendor: index.perVendor,
      excluded: 'skin-tone variants, Flags and Component categories; Apple and Facebook designs',
    },
    options,
  );
}
