/**
 * The manifest's robustness block (model-store/robustness-block.ts) from a robustness report: the
 * figures' estimates as the report computed them (estimates.ts), or, for a report written before
 * per-query values were kept, rebuilt from its means (rates get their Wilson interval back).
 */
import { ATTACK_NAMES, type AttackName, type MetricName } from '../attacks/definitions';
import {
  FULL_SUITE_MIN_QUERIES,
  validateRobustnessBlock,
  worstRecallAt1,
  type ManifestEstimate,
  type RobustnessBlock,
  type RobustnessBudget,
} from '../model-store/robustness-block';
import { plainEstimate, rateFromAggregate } from './intervals';
import { figureEstimate } from './render';
import type { RobustnessReport } from './report';

export interface BlockContext {
  /** The evaluation data, e.g. the data set spec the report ran on. */
  data: string;
  /** The command (or job) that measured the figures. */
  command: string;
  /** The hash of the weights the report measured (the manifest's weightsSha256). */
  weightsSha256: string;
  /** Label the figures a quick suite whatever they are (training jobs); default: from the report. */
  budget?: 'quick suite';
  /** Default: the report's createdAt. */
  date?: string;
}

/** The attacks a report ran as configured (its figures), in suite order; not the strength checks. */
export function attacksOf(report: Pick<RobustnessReport, 'figures'>): AttackName[] {
  return ATTACK_NAMES.filter((attack) =>
    attack === 'ES' ? report.figures['ES:R'] !== undefined : report.figures[attack] !== undefined,
  );
}

/** 'full suite' for all nine attacks with both strength checks on at least 1,000 queries. */
export function budgetOf(report: RobustnessReport): RobustnessBudget {
  const full =
    attacksOf(report).length === ATTACK_NAMES.length &&
    report.sanity.strength !== null &&
    report.sanity.strength !== undefined &&
    report.options.sampleSize >= FULL_SUITE_MIN_QUERIES;
  return full ? 'full suite' : 'quick suite';
}

function recall(report: RobustnessReport, metric: MetricName): ManifestEstimate | null {
  const estimate = figureEstimate(report, metric);
  return estimate ? plainEstimate(estimate) : null;
}

export function robustnessBlockFromReport(
  report: RobustnessReport,
  context: BlockContext,
): RobustnessBlock {
  if (!report.chance)
    throw new Error(
      'the report has no chance levels (written before they existed): run rir attack again',
    );
  const n = report.options.sampleSize;
  const natural = report.estimates?.naturalRecallAt1
    ? plainEstimate(report.estimates.naturalRecallAt1)
    : rateFromAggregate(report.natural.recallAt1, n);
  const attacks = attacksOf(report);
  const esR = recall(report, 'ES:R');
  const ltm = recall(report, 'LTM');
  const gtm = recall(report, 'GTM');
  const block: RobustnessBlock = {
    natural: {
      recallAt1: natural,
      ...(report.estimates?.mapAtR ? { mapAtR: plainEstimate(report.estimates.mapAtR) } : {}),
    },
    adversarial:
      attacks.length === 0
        ? null
        : {
            esR,
            ltm,
            gtm,
            worstRecallAt1: worstRecallAt1({ 'ES:R': esR, LTM: ltm, GTM: gtm }),
            ers: report.estimates?.ers ? plainEstimate(report.estimates.ers) : null,
          },
    chance: { recallAt1: report.chance.recallAt1 },
    attack: {
      eps: report.options.eps,
      alpha: report.options.alpha,
      steps: report.options.steps,
      restarts: report.options.restarts,
      attacks,
      sampleSize: report.options.sampleSize,
      gallerySize: report.options.gallerySize,
      seed: report.options.seed,
      strengthChecks: Boolean(report.sanity.strength),
    },
    budget: context.budget ?? budgetOf(report),
    data: context.data,
    date: context.date ?? report.createdAt,
    command: context.command,
    weightsSha256: context.weightsSha256,
    ...(report.sanity.warnings.length > 0 ? { warnings: [...report.sanity.warnings] } : {}),
  };
  // What is written is what every reader accepts.
  return validateRobustnessBlock(block, context.weightsSha256);
}
