import { promises as fs } from 'fs';
import * as path from 'path';
import { decodeImage, type DecodeOptions } from './decode-image';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

export interface FolderClass {
  name: string;
  files: string[];
}

/**
 * Lists an image folder with one sub-folder per class (sorted by name, files sorted by name).
 * Fails on a missing path, a folder without classes, an empty class folder and a class with a single
 * image (metric learning needs a positive pair).
 */
export async function listImageFolder(root: string): Promise<FolderClass[]> {
  let stat;
  try {
    stat = await fs.stat(root);
  } catch {
    throw new Error(`image folder not found: ${root}`);
  }
  if (!stat.isDirectory()) throw new Error(`not a directory: ${root}`);
  const entries = await fs.readdir(root, { withFileTypes: true });
  const classDirs = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  classDirs.sort();
  if (classDirs.length === 0) throw new Error(`image folder ${root} has no class sub-folders (expected one per class)`);
  const classes: FolderClass[] = [];
  for (const name of classDirs) {
    const dir = path.join(root, name);
    const files = (await fs.readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase()))
      .map((entry) => path.join(dir, entry.name))
      .sort();
    if (files.length === 0) throw new Error(`class folder ${dir} holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
    if (files.length === 1) throw new Error(`class folder ${dir} holds a single image; each class needs at least 2`);
    classes.push({ name, files });
  }
  return classes;
}

export interface DecodeFilesResult {
  pixels: Float32Array;
  /** Positions (into `files`) that decoded; skipped files are left out. */
  decoded: number[];
  skipped: string[];
}

/**
 * Decodes files into one HWC float buffer, a few at a time. An unreadable file fails the whole load with
 * its path named, or is skipped and reported when `skipUnreadable` is set.
 */
export async function decodeFiles(
  files: string[],
  options: DecodeOptions,
  skipUnreadable: boolean,
  concurrency = 4,
): Promise<DecodeFilesResult> {
  const size = options.height * options.width * options.channels;
  const results: (Float32Array | null)[] = new Array(files.length).fill(null);
  const skipped: string[] = [];
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < files.length) {
      const position = next++;
      const file = files[position];
      try {
        results[position] = await decodeImage(await fs.readFile(file), options);
      } catch (error) {
        if (!skipUnreadable) throw new Error(`unreadable image ${file}: ${(error as Error).message}`);
        skipped.push(file);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, work));
  const decoded = results.flatMap((result, position) => (result ? [position] : []));
  const pixels = new Float32Array(decoded.length * size);
  decoded.forEach((position, i) => pixels.set(results[position]!, i * size));
  return { pixels, decoded, skipped: skipped.sort() };
}
