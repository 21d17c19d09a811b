/** What a reproduction budget holds: how much training and attacking one run of `rir reproduce` gets. */
import type { DefenseOptions } from '../defenses';
import type { BackboneName } from '../models/embedding-model';
import type { LrSchedule } from '../training/schedule';

export const BUDGET_NAMES = [
  'smoke',
  'small',
  'extended',
  'medium',
  'long',
  'full',
  'robrank',
] as const;
export type BudgetName = (typeof BUDGET_NAMES)[number];

export interface ReproductionBudget {
  /** The backbone and the square input size it is trained at (default: the small CNN on 28x28 grey). */
  backbone?: BackboneName;
  imageSize?: number;
  /** Embedding width (default: the trainer's, 128). */
  embeddingDim?: number;
  /** Training images (a seeded subset of the training classes), validation images, test images (gallery). */
  maxTrain: number;
  maxValidation: number;
  maxTest: number;
  batchSize: number;
  perClass: number;
  epochs: number;
  stepsPerEpoch: number;
  learningRate: number;
  /** Learning-rate schedule of the training from scratch (default cosine; fine-tuning is constant). */
  schedule?: LrSchedule;
  /**
   * Robust defences start from the finished `none` model of the same data set and train this many
   * steps more (adversarial fine-tuning) at a constant learning rate. Absent: every defence trains from scratch.
   */
  fineTune?: { steps: number; learningRate: number };
  training: Required<Pick<DefenseOptions, 'eps' | 'steps' | 'alpha' | 'weight'>>;
  evaluation: {
    eps: number;
    alpha: number;
    steps: number;
    restarts: number;
    sampleSize: number;
    targetedStepFactor: number;
  };
}
