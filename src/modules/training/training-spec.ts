/**
 * A training job's payload as stored in the jobs table: the request after validation, with a
 * `folder:`/`idx:` location resolved to an absolute path inside an allowed data root.
 * Framework-free: the job's worker thread reads it too.
 */
import type { InnerName, OverfitAction } from '../../ml/defenses/options';
import type { BackboneName } from '../../ml/models';
import type { TrainingPosition } from '../../ml/types';

export interface TrainingJobSpec {
  /** As the client named it (`mnist`, `folder:cats`, `gallery`). */
  datasetName: string;
  /** What the ML core loads (`mnist`, `folder:/abs/path`, `idx:/abs/a,/abs/b`). */
  dataset: string;
  /**
   * Name of the model version it registers: the request's, else `<dataset>-<defense>-<date>`
   * (numbered when taken by then). Absent in jobs queued before names existed.
   */
  name?: string;
  backbone: BackboneName;
  trainBackbone?: boolean;
  imageSize?: number;
  embeddingDim: number;
  loss: string;
  defense: string;
  defenseOptions: { eps: number; steps: number; alpha?: number; weight?: number };
  /** The inner maximisation (absent in jobs queued before it was selectable: pgd). */
  inner?: InnerName;
  freeReplays?: number;
  onOverfit?: OverfitAction;
  epochs: number;
  batchSize: number;
  perClass: number;
  learningRate: number;
  seed: number;
  stepsPerEpoch?: number;
  maxTrain?: number;
  maxValidation?: number;
  maxTest?: number;
  /** The quick robustness figure: ES at `defenseOptions.eps` on this many held-out queries. */
  robustness: { samples: number; steps: number };
  /** Checkpoints within epochs (unset: the trainer's defaults, CHECKPOINT_DEFAULTS). */
  checkpointEverySteps?: number;
  checkpointEveryMinutes?: number;
}

/** What a training job leaves in `result`. */
export interface TrainingJobResult extends Record<string, unknown> {
  cancelled?: boolean;
  modelId?: string;
  /** The registered version's name when it was registered (it may be renamed since). */
  modelName?: string;
  modelDir?: string;
  /** Natural retrieval metrics on the held-out (test) classes. */
  metrics?: Record<string, unknown>;
  /** R@1 (percent) of held-out queries under the embedding-shifting attack at the job's eps. */
  robustness?: Record<string, unknown>;
  epochsCompleted?: number;
  /** Cancelled: where the checkpoint it kept would let it continue. */
  checkpoint?: TrainingPosition;
  checkpointDir?: string;
  /** Where the run that finished resumed (null: it started from step 0). */
  resumedFrom?: TrainingPosition | null;
  /** Epochs the checkpoint it resumed from had completed. */
  resumedFromEpoch?: number;
}
