export {
  saveModel,
  loadModel,
  loadModelVersion,
  readManifest,
  parseManifest,
  updateManifest,
  MANIFEST_FILE,
} from './model-store';
export type { ModelManifest, ManifestInput } from './model-store';
export {
  validateRobustnessBlock,
  worstRecallAt1,
  RobustnessBlockError,
  ROBUSTNESS_BUDGETS,
  FULL_SUITE_MIN_QUERIES,
  WORST_OF_FIGURES,
  type ManifestEstimate,
  type RobustnessBlock,
  type RobustnessBudget,
  type WorstOfFigure,
} from './robustness-block';
export {
  fileSystemHandler,
  saveNamedTensors,
  loadNamedTensors,
  sha256,
  writeFileAtomic,
  type NamedTensor,
} from './file-io';
