import { existsSync } from 'fs';
import * as path from 'path';

/**
 * The folder that holds the project's package.json, found by walking up from `from`. The same code
 * runs from src/ (TypeScript sources) and from dist/src/ (compiled), so fixed `..` counts break in one
 * of them.
 */
export function packageRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}
