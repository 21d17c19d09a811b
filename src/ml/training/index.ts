export {
  trainEmbeddingModel,
  TrainingCancelledError,
  type TrainingHooks,
  type TrainingResult,
} from './trainer';
export { computeGradients, applyGradients, type StepGradients } from './step';
export {
  resolveTrainingConfig,
  defaultPerClass,
  checkClassesPerBatch,
  checkTrainingData,
  TRAINING_DEFAULTS,
  CHECKPOINT_DEFAULTS,
  type TrainingConfig,
} from './config';
export { learningRateAt, setLearningRate, type LrSchedule, type ScheduleConfig } from './schedule';
export {
  saveCheckpoint,
  readCheckpointState,
  openCheckpoint,
  recoverCheckpoint,
  restoreOptimizer,
  checkpointPosition,
  describeResume,
  CHECKPOINT_DIR,
  type EpochRecord,
  type CheckpointState,
} from './checkpoint';
export { runTrainingInWorker } from './run-in-worker';
