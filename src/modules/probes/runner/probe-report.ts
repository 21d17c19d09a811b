/** The report a probe stores (JSON in PostgreSQL) and serves; plain data, framework-free. */
import type { AttackName, MetricName } from '../../../ml/attacks/definitions';
import type { AttackConfiguration } from '../../../ml/attacks/suite';
import type { ChanceLevels, FigureEstimate } from '../../../ml/robustness/estimates';
import type { Estimate } from '../../../ml/robustness/intervals';
import type { ReportEstimates, SanityChecks } from '../../../ml/robustness/report';
import type { ProbeConfig } from './probe-config';

export interface AttackSummary {
  attack: AttackName;
  /** The figure(s) the literature reports for this attack (ES has two: ES:D and ES:R). */
  figures: Partial<Record<MetricName, number>>;
  /** The same figures on the clean images. */
  cleanFigures: Partial<Record<MetricName, number>>;
  /** n, 95% interval and chance level of each figure, attacked and clean (absent in older reports). */
  estimates?: Partial<Record<MetricName, FigureEstimate>>;
  cleanEstimates?: Partial<Record<MetricName, FigureEstimate>>;
  /** R@1 (percent) of the perturbed queries against the clean gallery, for attacks that report one. */
  recallAt1UnderAttack: number | null;
  configuration: AttackConfiguration;
  objectiveBefore: number;
  objectiveAfter: number;
  maxPerturbation: number;
  zeroGradientShare: number;
  nonFiniteGradientShare: number;
}

export interface CurvePoint {
  eps: number;
  /**
   * R@1 (percent) under the worst case: share of sampled queries that no R@1 attack (ES, LTM, GTM)
   * broke at this eps or any smaller one on the curve. Null when no R@1 attack ran.
   */
  recallAt1: number | null;
  /** The lowest R@1-type figure measured at this eps alone. */
  rawRecallAt1: number | null;
  figures: Partial<Record<MetricName, number>>;
  ers: number | null;
  /** recallAt1 (Wilson, over the sampled queries) and every figure with n and 95% interval (absent in older reports). */
  estimates?: {
    recallAt1: Estimate | null;
    figures: Partial<Record<MetricName, FigureEstimate>>;
  };
}

export interface RankDistribution {
  attack: 'CA+';
  /** true when the probe set is the live gallery. */
  liveGallery: boolean;
  queriesPerCandidate: number;
  candidates: number;
  /** Percentile ranks (0 = first, 100 = last) of each perturbed candidate for each of its queries. */
  ranks: {
    count: number;
    mean: number;
    /** Quantiles 0, 10, 25, 50, 75, 90, 100. */
    quantiles: Record<'p0' | 'p10' | 'p25' | 'p50' | 'p75' | 'p90' | 'p100', number>;
    /** Share (percent) of (candidate, query) pairs where the candidate reached the top 1% / 10%. */
    top1PercentShare: number;
    top10PercentShare: number;
    /** Ten buckets of 10 percentile points each. */
    histogram: { from: number; to: number; count: number }[];
  };
  /** Mean percentile rank of the same candidates before the attack. */
  cleanMean: number;
}

export interface TopResult {
  row: number;
  label: string;
  itemId?: string;
  distance: number;
}

export interface ProbeExample {
  n: number;
  attack: AttackName;
  row: number;
  itemId?: string;
  label: string;
  cleanTop: TopResult;
  attackedTop: TopResult;
  /** true when the clean top-1 had the query's label and the attacked one does not. */
  flipped: boolean;
  /** Distance between the clean and the perturbed embedding. */
  embeddingShift: number;
  /** Largest pixel change (l-inf). */
  maxPerturbation: number;
  /** Size of the composed PNG (original | adversarial | amplified perturbation). */
  png: { width: number; height: number; scale: number };
}

export interface ProbeReport {
  version: 1;
  model: {
    id: string;
    weightsSha256: string;
    inputShape: [number, number, number];
    embeddingDim: number;
  };
  probeSet: { name: string; images: number; classes: number; sampleSize: number };
  config: ProbeConfig;
  primaryEps: number;
  clean: { recallAt1: number; mapAtR: number };
  /** R@1 etc. of a random ranking of the probe set (percent; absent in older reports). */
  chance?: ChanceLevels;
  attacks: AttackSummary[];
  figures: Partial<Record<MetricName, number>>;
  /** n, 95% interval and chance of clean R@1, MAP@R, every figure and ERS (absent in older reports). */
  estimates?: ReportEstimates;
  ers: number | null;
  adversarialRecallAt1: number | null;
  curve: CurvePoint[];
  candidateRanks: RankDistribution | null;
  examples: ProbeExample[];
  sanity: SanityChecks & {
    /** The raw per-eps R@1 never rises with eps (when it does, the attack at the larger eps is too weak). */
    monotoneCurve: boolean;
  };
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
}
