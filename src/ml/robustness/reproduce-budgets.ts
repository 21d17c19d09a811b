/**
 * The budgets of `rir reproduce`, per data set: the table its runner (reproduce.ts) reads, and the
 * look-ups that name what exists when a budget does not.
 */
import type { BudgetName, ReproductionBudget } from './reproduce-budget';
import { ROBRANK_MNIST, ROBRANK_MNIST_SMOKE } from './robrank';

/** Budgets `medium` and above attack at least this many queries (smaller ones print that their intervals are wide). */
export const MIN_QUERIES_MEDIUM = 1000;

/** The published MNIST attack (docs/METHOD.md §2); budgets differ in how many queries they attack. */
const MNIST_EVALUATION = {
  eps: 77 / 255,
  alpha: 3 / 255,
  steps: 32,
  restarts: 1,
  targetedStepFactor: 2,
};

/** Training attacks at MNIST's eps 0.3: a quick one (2 steps of 0.3) and the published one (7 of 0.1, docs/METHOD.md §8). */
const MNIST_TRAINING_QUICK = { eps: 0.3, steps: 2, alpha: 0.3, weight: 1 };
const MNIST_TRAINING_PUBLISHED = { eps: 0.3, steps: 7, alpha: 0.1, weight: 1 };

/** What every MNIST budget shares: the learning rate from scratch and, unless it says otherwise, the quick attack. */
const MNIST_BASE = { learningRate: 1e-3, training: MNIST_TRAINING_QUICK };

/** Adversarial fine-tuning of MNIST's robust defences: `steps` at a constant 5e-4. */
const mnistFineTune = (steps: number) => ({ steps, learningRate: 5e-4 });

// Sized for two CPU cores shared with other work (about 90 minutes for four defences).
const MNIST_SMALL: ReproductionBudget = {
  ...MNIST_BASE,
  maxTrain: 6000,
  maxValidation: 300,
  maxTest: 1000,
  batchSize: 40,
  perClass: 8,
  epochs: 2,
  stepsPerEpoch: 50,
  fineTune: mnistFineTune(30),
  evaluation: { ...MNIST_EVALUATION, sampleSize: 30 },
};

// Past the loss plateau (docs/METHOD.md §8: 250-400 iterations) for the natural model: 300 natural
// iterations of 100 images, then 100 robust iterations each, and 1,000 attacked queries (a rate's 95%
// interval is then at most about +-3 points; 100 queries gave +-10).
const MNIST_MEDIUM: ReproductionBudget = {
  ...MNIST_BASE,
  maxTrain: 30000,
  maxValidation: 500,
  maxTest: 2000,
  batchSize: 100,
  perClass: 20,
  epochs: 3,
  stepsPerEpoch: 100,
  fineTune: mnistFineTune(100),
  evaluation: { ...MNIST_EVALUATION, sampleSize: MIN_QUERIES_MEDIUM },
};

/**
 * RGB data sets (iconify, emoji): the ImageNet-initialised MobileNetV2 fine-tuned at 32x32, training eps
 * 8/255 and the published RGB attack (eps 8/255, alpha 3/255, 32 steps; docs/METHOD.md §2). Sized
 * for about half an hour per data set and defence on one shared core.
 */
const RGB_EVALUATION = { ...MNIST_EVALUATION, eps: 8 / 255 };

const RGB_SMALL: ReproductionBudget = {
  backbone: 'mobilenetv2',
  imageSize: 32,
  maxTrain: 4000,
  maxValidation: 200,
  maxTest: 1000,
  batchSize: 32,
  perClass: 4,
  epochs: 2,
  stepsPerEpoch: 60,
  learningRate: 1e-4,
  fineTune: { steps: 60, learningRate: 5e-5 },
  training: { eps: 8 / 255, steps: 3, alpha: 4 / 255, weight: 1 },
  evaluation: { ...RGB_EVALUATION, sampleSize: 50 },
};

const RGB_SMOKE: ReproductionBudget = {
  ...RGB_SMALL,
  maxTrain: 120,
  maxValidation: 12,
  maxTest: 40,
  batchSize: 12,
  perClass: 3,
  epochs: 1,
  stepsPerEpoch: 2,
  fineTune: { steps: 2, learningRate: 5e-5 },
  training: { eps: 8 / 255, steps: 2, alpha: 4 / 255, weight: 1 },
  evaluation: { ...RGB_EVALUATION, steps: 2, sampleSize: 4 },
};

/** The RGB data sets have two budgets so far: `smoke` and `small`. */
const RGB_BUDGETS: Partial<Record<BudgetName, ReproductionBudget>> = {
  smoke: RGB_SMOKE,
  small: RGB_SMALL,
};

/** Budgets per data set. MNIST: eps 77/255, alpha 3/255, 32 steps at evaluation (docs/METHOD.md §2). */
export const BUDGETS: Record<string, Partial<Record<BudgetName, ReproductionBudget>>> = {
  iconify: RGB_BUDGETS,
  // An emoji has one image per vendor: a random 1,000 of the 5,143 test images left about two per
  // emoji, so the gallery is the whole test split (attacks still use `sampleSize` queries).
  emoji: { ...RGB_BUDGETS, small: { ...RGB_SMALL, maxTest: 6000 } },
  mnist: {
    // Checks the pipeline end to end in a few minutes; its numbers mean nothing.
    smoke: {
      ...MNIST_BASE,
      maxTrain: 400,
      maxValidation: 50,
      maxTest: 200,
      batchSize: 20,
      perClass: 4,
      epochs: 1,
      stepsPerEpoch: 2,
      fineTune: mnistFineTune(2),
      evaluation: { ...MNIST_EVALUATION, steps: 2, sampleSize: 4 },
    },
    small: MNIST_SMALL,
    // `small` with three times the adversarial fine-tuning (the undefended model is the same).
    extended: { ...MNIST_SMALL, fineTune: mnistFineTune(90) },
    medium: MNIST_MEDIUM,
    // `medium`'s natural model, then three times the robust fine-tuning with the published inner attack:
    // does the fold grow with the robust budget? About 35 minutes per robust defence on one idle core.
    long: { ...MNIST_MEDIUM, fineTune: mnistFineTune(300), training: MNIST_TRAINING_PUBLISHED },
    full: {
      ...MNIST_BASE,
      maxTrain: 30000,
      maxValidation: 1000,
      maxTest: 4861,
      batchSize: 125,
      perClass: 25,
      epochs: 12,
      stepsPerEpoch: 61,
      training: MNIST_TRAINING_PUBLISHED,
      evaluation: { ...MNIST_EVALUATION, sampleSize: MIN_QUERIES_MEDIUM, targetedStepFactor: 3 },
    },
  },
  // RobRank's MNIST protocol: all ten digits, train split against test split, C2F2 (robrank.ts).
  'mnist-all': { smoke: ROBRANK_MNIST_SMOKE, robrank: ROBRANK_MNIST },
};

/** The budgets of one data set; throws naming the data sets that have budgets. */
export function budgetsOf(dataset: string): Partial<Record<BudgetName, ReproductionBudget>> {
  const budgets = BUDGETS[dataset];
  if (!budgets)
    throw new Error(
      `no reproduction budget for data set '${dataset}' (budgets exist for ${Object.keys(BUDGETS).join(', ')})`,
    );
  return budgets;
}

/** The budget of one data set; throws naming the budgets it has. */
export function budgetFor(dataset: string, name: BudgetName): ReproductionBudget {
  const budgets = budgetsOf(dataset);
  const budget = budgets[name];
  if (!budget)
    throw new Error(
      `data set '${dataset}' has no '${name}' budget (it has ${Object.keys(budgets).join(', ')})`,
    );
  return budget;
}
