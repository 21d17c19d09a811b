/**
 * A manifest robustness block as `rir attack --write-manifest` writes it, with fixed figures, for tests
 * that register models carrying one (and malformed variants of it).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import type { RobustnessBlock } from '../../src/ml/model-store';

/** Figures in percent (ERS in points) with their 95% intervals; n = 100 queries. */
export function robustnessBlock(
  weightsSha256: string,
  overrides: Partial<RobustnessBlock> = {},
): RobustnessBlock {
  const n = 100;
  return {
    natural: {
      recallAt1: { value: 62.5, low: 52.7, high: 71.4, n, method: 'wilson' },
      mapAtR: { value: 41.2, low: 37.0, high: 45.3, n, method: 'bootstrap' },
    },
    adversarial: {
      esR: { value: 31.5, low: 22.9, high: 41.6, n, method: 'wilson' },
      ltm: { value: 40.0, low: 30.9, high: 49.8, n, method: 'wilson' },
      gtm: { value: 25.0, low: 17.5, high: 34.3, n, method: 'wilson' },
      worstRecallAt1: { value: 25.0, low: 17.5, high: 34.3, n, method: 'wilson', figure: 'GTM' },
      ers: { value: 38.2, low: 35.1, high: 41.0, n, method: 'bootstrap' },
    },
    chance: { recallAt1: 20.1 },
    attack: {
      eps: 8 / 255,
      alpha: 3 / 255,
      steps: 32,
      restarts: 1,
      attacks: ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT'],
      sampleSize: n,
      gallerySize: 1000,
      seed: 0,
      strengthChecks: false,
    },
    budget: 'quick suite',
    data: 'mnist',
    date: '2026-12-01T10:00:00.000Z',
    command:
      'rir attack --model models/x --dataset mnist --attacks all --eps 8/255 --alpha 3/255 --steps 32 ' +
      '--restarts 1 --sample 100 --gallery 1000 --seed 0 --no-strength-check --write-manifest',
    weightsSha256,
    ...overrides,
  };
}

/** Sets fields of a model directory's manifest.json (the robustness block, legacy metrics, ...). */
export async function editManifest(
  dir: string,
  edit: (manifest: Record<string, unknown>) => void,
): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  edit(manifest);
  await fs.writeFile(file, JSON.stringify(manifest, null, 2));
  return manifest;
}
