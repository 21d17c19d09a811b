/**
 * Robustness evaluation of a stored model version on a data set's class-disjoint test split: options
 * are checked first, then the model and the data are loaded and matched, then the attacks run.
 */
import { parseAttackList, type AttackName } from '../attacks/definitions';

export { parseBudget } from '../attacks/definitions';
import { validateSuiteOptions, type AttackProgress } from '../attacks/suite';
import { loadDataset } from '../data';
import { loadModelVersion } from '../model-store';
import { buildRobustnessReportAsync, type RobustnessReport } from './report';

export interface RobustnessRequest {
  modelDir: string;
  dataset: string;
  /** 'all' or a comma-separated list. */
  attacks: string;
  eps: number;
  alpha: number;
  steps: number;
  restarts?: number;
  /** Queries attacked. */
  sampleSize?: number;
  /** Gallery = this many test images (seeded subset). */
  gallerySize?: number;
  seed?: number;
  skipStrengthCheck?: boolean;
  targetedStepFactor?: number;
}

/** Everything that can be checked without loading anything. */
export function validateRequest(request: RobustnessRequest): AttackName[] {
  const attacks = parseAttackList(request.attacks);
  validateSuiteOptions({
    eps: request.eps,
    alpha: request.alpha,
    steps: request.steps,
    restarts: request.restarts,
    sampleSize: request.sampleSize,
    targetedStepFactor: request.targetedStepFactor,
  });
  if (
    request.gallerySize !== undefined &&
    (!Number.isInteger(request.gallerySize) || request.gallerySize < 2)
  ) {
    throw new Error(`gallery size must be an integer >= 2 (got ${request.gallerySize})`);
  }
  return attacks;
}

export async function evaluateRobustness(
  request: RobustnessRequest,
  onProgress?: (progress: AttackProgress) => void,
): Promise<RobustnessReport> {
  const attacks = validateRequest(request);
  const { model, manifest } = await loadModelVersion(request.modelDir);
  try {
    const split = await loadDataset(request.dataset, {
      seed: request.seed ?? 0,
      maxTest: request.gallerySize ?? 1000,
      maxTrain: 0,
      maxValidation: 0,
    });
    return await buildRobustnessReportAsync(model, split.test, {
      attacks,
      eps: request.eps,
      alpha: request.alpha,
      steps: request.steps,
      restarts: request.restarts,
      sampleSize: request.sampleSize,
      seed: request.seed,
      skipStrengthCheck: request.skipStrengthCheck,
      targetedStepFactor: request.targetedStepFactor,
      model: `${manifest.id} (${manifest.defense?.name ?? 'no defence'})`,
      dataset: request.dataset,
      onProgress,
    });
  } finally {
    model.dispose();
  }
}
