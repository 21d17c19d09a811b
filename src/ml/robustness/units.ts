/**
 * The unit of rates in JSON. The suite computes on RobRank's 0..100 scale (rates, percentile ranks and ERS
 * in percent or points: its formulas, the chance levels and the published figures it is compared with use
 * it), and stores that scale (job results in the database, manifests' robustness blocks, docs/results).
 * Every JSON the API or the CLI gives out has fractions in [0, 1] instead: the functions here own that
 * conversion, both ways, so a stored record is never rewritten and never misread.
 *
 * What scales: R@1 and MAP@R, the R@1-type figures (ES:R, LTM, GTM), GTT's retain@4, the percentile-rank
 * figures (CA+, CA-, QA+, QA-), ERS, their intervals and chance levels, per-query values and strength-check
 * drops. What does not: TMA (a cosine), ES:D (a distance), eps, counts, and shares that are fractions
 * already (zero / non-finite gradient shares).
 */
import type { MetricName } from '../attacks/definitions';
import type { AttackRun } from '../attacks/suite';
import type { RobustnessBlock } from '../model-store/robustness-block';
import type { ChanceLevels, FigureEstimate } from './estimates';
import type { Estimate } from './intervals';
import { FIGURES } from './render';
import type { ReportEstimates, RobustnessReport, SanityChecks } from './report';

/** How the API and the CLI's JSON state the unit of rates (OpenAPI descriptions, `units` fields). */
export const FRACTION = 'fraction in [0, 1]';

/** The marker of a report given out in fractions (`rir attack --json`): readers scale it back. */
export const FRACTION_UNIT = 'fraction' as const;

/** A conversion of a 0..100 figure: to a fraction, or back. */
export type Scale = (value: number) => number;
export const percentToFraction: Scale = (value) => value / 100;
export const fractionToPercent: Scale = (value) => value * 100;

const scaled = <T>(value: T, scale: Scale): T =>
  (typeof value === 'number' ? scale(value) : value) as T;

/** Whether a suite figure is on the 0..100 scale (all but TMA and ES:D). */
const onPercentScale = (metric: string): boolean => FIGURES[metric as MetricName]?.percent === true;

export function scaleEstimate<E extends Estimate>(estimate: E, scale: Scale): E {
  const out = {
    ...estimate,
    value: scale(estimate.value),
    low: scale(estimate.low),
    high: scale(estimate.high),
  };
  if ('chance' in estimate) {
    const figure = out as unknown as FigureEstimate;
    figure.chance = scaled(figure.chance, scale);
  }
  return out;
}

const maybeEstimate = <E extends Estimate>(estimate: E | null | undefined, scale: Scale) =>
  estimate ? scaleEstimate(estimate, scale) : estimate;

/** A record of suite figures (means), per-query arrays or estimates: the 0..100 ones scaled. */
export function scaleFigureRecord<V>(
  record: Partial<Record<MetricName, V>> | undefined,
  scale: Scale,
): Partial<Record<MetricName, V>> | undefined {
  if (!record) return record;
  const out: Partial<Record<MetricName, V>> = {};
  for (const [metric, value] of Object.entries(record) as [MetricName, V][]) {
    out[metric] = !onPercentScale(metric)
      ? value
      : Array.isArray(value)
        ? (value.map((v: number) => scale(v)) as V)
        : value !== null && typeof value === 'object'
          ? (scaleEstimate(value as unknown as Estimate, scale) as V)
          : scaled(value, scale);
  }
  return out;
}

export function scaleChance(chance: ChanceLevels | undefined, scale: Scale) {
  return chance
    ? {
        recallAt1: scale(chance.recallAt1),
        retainAt4: scale(chance.retainAt4),
        percentileRank: scale(chance.percentileRank),
      }
    : chance;
}

export function scaleReportEstimates(
  estimates: ReportEstimates | undefined,
  scale: Scale,
): ReportEstimates | undefined {
  if (!estimates) return estimates;
  return {
    naturalRecallAt1: scaleEstimate(estimates.naturalRecallAt1, scale),
    mapAtR: scaleEstimate(estimates.mapAtR, scale),
    figures: scaleFigureRecord(estimates.figures, scale) ?? {},
    ers: maybeEstimate(estimates.ers, scale) ?? null,
  };
}

export function scaleSanity<S extends SanityChecks>(sanity: S, scale: Scale): S {
  const { strength, alternative } = sanity;
  return {
    ...sanity,
    strength: strength && {
      ...strength,
      base: scale(strength.base),
      stronger: scale(strength.stronger),
      drop: scale(strength.drop),
      baseEstimate: maybeEstimate(strength.baseEstimate, scale),
      strongerEstimate: maybeEstimate(strength.strongerEstimate, scale),
    },
    ...(alternative
      ? {
          alternative: {
            ...alternative,
            base: scaleEstimate(alternative.base, scale),
            alternative: scaleEstimate(alternative.alternative, scale),
          },
        }
      : {}),
  };
}

export function scaleAttackRun(run: AttackRun, scale: Scale): AttackRun {
  return {
    ...run,
    figures: scaleFigureRecord(run.figures, scale)!,
    cleanFigures: scaleFigureRecord(run.cleanFigures, scale)!,
    perQuery: scaleFigureRecord(run.perQuery, scale)!,
    cleanPerQuery: scaleFigureRecord(run.cleanPerQuery, scale)!,
    estimates: scaleFigureRecord(run.estimates, scale)!,
    cleanEstimates: scaleFigureRecord(run.cleanEstimates, scale)!,
  };
}

export function scaleRobustnessReport(report: RobustnessReport, scale: Scale): RobustnessReport {
  return {
    ...report,
    natural: { recallAt1: scale(report.natural.recallAt1), mapAtR: scale(report.natural.mapAtR) },
    naturalPerQuery: report.naturalPerQuery && {
      recallAt1: report.naturalPerQuery.recallAt1.map(scale),
      averagePrecision: report.naturalPerQuery.averagePrecision.map(scale),
    },
    chance: scaleChance(report.chance, scale)!,
    figures: scaleFigureRecord(report.figures, scale)!,
    estimates: scaleReportEstimates(report.estimates, scale)!,
    adversarialRecallAt1: scaled(report.adversarialRecallAt1, scale),
    ers: scaled(report.ers, scale),
    runs: report.runs?.map((run) => scaleAttackRun(run, scale)),
    sanity: scaleSanity(report.sanity, scale),
  };
}

/** A robustness report as JSON gives it out: fractions, marked so that readers can tell. */
export type FractionReport = RobustnessReport & { unit: typeof FRACTION_UNIT };

export function reportInFractions(report: RobustnessReport): FractionReport {
  return { ...scaleRobustnessReport(report, percentToFraction), unit: FRACTION_UNIT };
}

/**
 * A report read from a JSON file, on the suite's 0..100 scale: one in fractions (marked `unit:
 * 'fraction'`, `rir attack --json` since rates became fractions) is scaled back; an unmarked one was
 * written on that scale and is taken as it is.
 */
export function reportFromJson(json: RobustnessReport & { unit?: string }): RobustnessReport {
  if (json.unit === undefined) return json;
  if (json.unit !== FRACTION_UNIT)
    throw new Error(`unknown report unit '${json.unit}' (expected '${FRACTION_UNIT}')`);
  const { unit: _unit, ...report } = json;
  return scaleRobustnessReport(report, fractionToPercent);
}

export function scaleRobustnessBlock(block: RobustnessBlock, scale: Scale): RobustnessBlock {
  const { adversarial } = block;
  return {
    ...block,
    natural: {
      ...block.natural,
      recallAt1: scaleEstimate(block.natural.recallAt1, scale),
      ...(block.natural.mapAtR ? { mapAtR: scaleEstimate(block.natural.mapAtR, scale) } : {}),
    },
    adversarial: adversarial && {
      esR: maybeEstimate(adversarial.esR, scale) ?? null,
      ltm: maybeEstimate(adversarial.ltm, scale) ?? null,
      gtm: maybeEstimate(adversarial.gtm, scale) ?? null,
      worstRecallAt1: maybeEstimate(adversarial.worstRecallAt1, scale) ?? null,
      ers: maybeEstimate(adversarial.ers, scale) ?? null,
    },
    chance: { recallAt1: scale(block.chance.recallAt1) },
  };
}

/**
 * The figure a training job keeps (`result.robustness`, `metrics.robustness` of its manifest): natural
 * R@1 and R@1 under ES with their chance level and estimates; ES:D (`embeddingShift`) is a distance.
 */
export function scaleQuickRobustness(
  quick: Record<string, unknown> | null | undefined,
  scale: Scale,
): Record<string, unknown> | null | undefined {
  if (!quick) return quick;
  const estimates = quick.estimates as Record<string, Estimate | undefined> | undefined;
  return {
    ...quick,
    naturalRecallAt1: scaled(quick.naturalRecallAt1, scale),
    recallAt1UnderAttack: scaled(quick.recallAt1UnderAttack, scale),
    ...('chanceRecallAt1' in quick
      ? { chanceRecallAt1: scaled(quick.chanceRecallAt1, scale) }
      : {}),
    ...(estimates
      ? {
          estimates: {
            ...estimates,
            naturalRecallAt1: maybeEstimate(estimates.naturalRecallAt1, scale),
            ...(estimates.recallAt1UnderAttack
              ? { recallAt1UnderAttack: scaleEstimate(estimates.recallAt1UnderAttack, scale) }
              : {}),
          },
        }
      : {}),
  };
}

/** An epoch's catastrophic-overfitting check (R@1 figures in percent, overfit.ts). */
function scaleRobustCheck(check: Record<string, unknown> | undefined, scale: Scale) {
  return check
    ? {
        ...check,
        naturalRecallAt1: scaled(check.naturalRecallAt1, scale),
        pgdRecallAt1: scaled(check.pgdRecallAt1, scale),
        fastRecallAt1: scaled(check.fastRecallAt1, scale),
      }
    : check;
}

/** An epoch history (`metrics.history`, a training run's `history`): the robust checks' R@1 scaled. */
export function scaleHistory(history: unknown, scale: Scale): unknown {
  if (!Array.isArray(history)) return history;
  return history.map((record: Record<string, unknown>) =>
    record && typeof record === 'object' && record.robustCheck
      ? {
          ...record,
          robustCheck: scaleRobustCheck(record.robustCheck as Record<string, unknown>, scale),
        }
      : record,
  );
}

/**
 * A model version's manifest as JSON gives it out: the robustness block, the training job's figure in
 * `metrics.robustness` and the epochs' robust checks in fractions (the retrieval metrics are already).
 */
export function manifestInFractions(manifest: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...manifest };
  if (manifest.robustness && typeof manifest.robustness === 'object')
    out.robustness = scaleRobustnessBlock(
      manifest.robustness as RobustnessBlock,
      percentToFraction,
    );
  const metrics = manifest.metrics as Record<string, unknown> | undefined;
  if (metrics && typeof metrics === 'object') {
    out.metrics = {
      ...metrics,
      ...('robustness' in metrics
        ? {
            robustness: scaleQuickRobustness(
              metrics.robustness as Record<string, unknown>,
              percentToFraction,
            ),
          }
        : {}),
      ...('history' in metrics
        ? { history: scaleHistory(metrics.history, percentToFraction) }
        : {}),
    };
  }
  return out;
}
