import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { packageRoot } from './package-root';
import { BUNDLED_MODELS_DIR } from '../modules/models/model-registry.service';
import { existsSync } from 'fs';

describe('packageRoot', () => {
  it('finds the nearest package.json from a compiled-looking folder', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rir-root-'));
    writeFileSync(path.join(root, 'package.json'), '{}');
    const deep = path.join(root, 'dist', 'src', 'modules', 'models');
    mkdirSync(deep, { recursive: true });
    expect(packageRoot(deep)).toBe(root);
  });

  it('points the bundled models at the committed default model', () => {
    expect(existsSync(path.join(BUNDLED_MODELS_DIR, 'default', 'manifest.json'))).toBe(true);
  });
});
