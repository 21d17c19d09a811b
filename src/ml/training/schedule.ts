export type LrSchedule = 'constant' | 'step' | 'cosine';

export interface ScheduleConfig {
  learningRate: number;
  schedule: LrSchedule;
  /** step: multiply by `decay` every `decayEvery` epochs. */
  decay?: number;
  decayEvery?: number;
  /** Linear warm-up over this many steps (0 = none). */
  warmupSteps?: number;
}

/** The learning rate at a global step (epochs counted from 0). Cosine decays to 1% of the base rate. */
export function learningRateAt(
  config: ScheduleConfig,
  step: number,
  stepsPerEpoch: number,
  totalSteps: number,
): number {
  const base = config.learningRate;
  const warmup = config.warmupSteps ?? 0;
  const factor = warmup > 0 && step < warmup ? (step + 1) / warmup : 1;
  switch (config.schedule) {
    case 'constant':
      return base * factor;
    case 'step': {
      const epoch = Math.floor(step / stepsPerEpoch);
      return base * factor * (config.decay ?? 0.1) ** Math.floor(epoch / (config.decayEvery ?? 10));
    }
    case 'cosine': {
      const progress = Math.min(1, step / Math.max(1, totalSteps));
      return base * factor * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new Error(
        `unknown learning-rate schedule '${String(config.schedule)}' (expected constant, step or cosine)`,
      );
  }
}

/** Sets the rate of a tfjs Adam/SGD optimizer (its field is not public in the typings). */
export function setLearningRate(optimizer: object, rate: number): void {
  (optimizer as { learningRate: number }).learningRate = rate;
}
