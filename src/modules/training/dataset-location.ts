import { BadRequestException } from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';

export const DATASET_FORMS = [
  'mnist',
  'mnist-all',
  'iconify[:OPTIONS]',
  'emoji[:OPTIONS]',
  'folder:PATH',
  'idx:IMAGES,LABELS',
  'gallery',
] as const;

/** `iconify` / `emoji` with optional `key=N` options (the loader checks the keys and values). */
const RENDERED_DATASET = /^(iconify|emoji)(:[a-z-]+=\d+(,[a-z-]+=\d+)*)?$/;

/**
 * Resolves a client's path against the allowed data roots. The real path (symlinks followed) must
 * lie inside one of them, so `..` and links cannot reach the rest of the file system.
 */
export async function resolveUnderRoots(
  requested: string,
  roots: string[],
  kind: 'directory' | 'file',
): Promise<string> {
  if (requested.trim() === '' || requested.includes('\0')) {
    throw new BadRequestException(`empty or invalid path '${requested}'`);
  }
  const candidates = path.isAbsolute(requested)
    ? [path.resolve(requested)]
    : roots.map((root) => path.resolve(root, requested));
  for (const candidate of candidates) {
    let real: string;
    try {
      real = await fs.realpath(candidate);
    } catch {
      continue;
    }
    const inside = await Promise.all(
      roots.map(async (root) => {
        const realRoot = await fs.realpath(root).catch(() => path.resolve(root));
        const relative = path.relative(realRoot, real);
        return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
      }),
    );
    if (!inside.some(Boolean)) continue;
    const stat = await fs.stat(real);
    if (kind === 'directory' ? stat.isDirectory() : stat.isFile()) return real;
  }
  throw new BadRequestException(
    `${kind} '${requested}' was not found inside the allowed data roots (${roots.join(', ')})`,
  );
}

/** Maps the data set a client named to what the ML core loads; 400 for anything else. */
export async function resolveDatasetSpec(name: string, roots: string[]): Promise<string> {
  if (name === 'mnist' || name === 'mnist-all') return name;
  if (RENDERED_DATASET.test(name)) return name;
  if (name.startsWith('folder:')) {
    return `folder:${await resolveUnderRoots(name.slice('folder:'.length), roots, 'directory')}`;
  }
  if (name.startsWith('idx:')) {
    const parts = name.slice('idx:'.length).split(',');
    if (parts.length !== 2)
      throw new BadRequestException(`expected idx:IMAGES,LABELS (got '${name}')`);
    const files = await Promise.all(parts.map((part) => resolveUnderRoots(part, roots, 'file')));
    return `idx:${files.join(',')}`;
  }
  throw new BadRequestException(
    `unknown data set '${name}': valid data sets are ${DATASET_FORMS.join(', ')}`,
  );
}
