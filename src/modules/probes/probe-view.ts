/**
 * What the probe routes answer: a probe job as its view (GET /v1/probes/:id) and its summary (the list).
 * The report is stored as the probe's worker wrote it, on the suite's 0..100 scale; the views give it
 * in fractions (src/ml/robustness/units.ts), the HTML page reads the stored one.
 */
import { ApiProperty } from '@nestjs/swagger';
import { PageOf } from '../../common/page-query';
import {
  FRACTION,
  percentToFraction,
  scaleChance,
  scaleFigureRecord,
  scaleReportEstimates,
  scaleSanity,
  scaleEstimate,
} from '../../ml/robustness/units';
import { jobView, JobViewDto, type Job } from '../jobs';
import type { ProbeConfig } from './runner/probe-config';
import type { CurvePoint, ProbeReport, RankDistribution } from './runner/probe-report';

const toFraction = percentToFraction;
const maybe = (value: number | null): number | null => (value === null ? null : toFraction(value));

function curvePointInFractions(point: CurvePoint): CurvePoint {
  return {
    ...point,
    recallAt1: maybe(point.recallAt1),
    rawRecallAt1: maybe(point.rawRecallAt1),
    figures: scaleFigureRecord(point.figures, toFraction)!,
    ers: maybe(point.ers),
    ...(point.estimates
      ? {
          estimates: {
            recallAt1:
              point.estimates.recallAt1 && scaleEstimate(point.estimates.recallAt1, toFraction),
            figures: scaleFigureRecord(point.estimates.figures, toFraction)!,
          },
        }
      : {}),
  };
}

function ranksInFractions(ranks: RankDistribution | null): RankDistribution | null {
  if (!ranks) return null;
  const r = ranks.ranks;
  return {
    ...ranks,
    ranks: {
      ...r,
      mean: toFraction(r.mean),
      quantiles: Object.fromEntries(
        Object.entries(r.quantiles).map(([q, value]) => [q, toFraction(value)]),
      ) as RankDistribution['ranks']['quantiles'],
      top1PercentShare: toFraction(r.top1PercentShare),
      top10PercentShare: toFraction(r.top10PercentShare),
      histogram: r.histogram.map((bucket) => ({
        ...bucket,
        from: toFraction(bucket.from),
        to: toFraction(bucket.to),
      })),
    },
    cleanMean: toFraction(ranks.cleanMean),
  };
}

/** A stored probe report (0..100) with every rate, percentile rank and ERS as a fraction. */
export function probeReportInFractions(report: ProbeReport): ProbeReport {
  return {
    ...report,
    clean: {
      recallAt1: toFraction(report.clean.recallAt1),
      mapAtR: toFraction(report.clean.mapAtR),
    },
    ...(report.chance ? { chance: scaleChance(report.chance, toFraction) } : {}),
    attacks: report.attacks.map((attack) => ({
      ...attack,
      figures: scaleFigureRecord(attack.figures, toFraction)!,
      cleanFigures: scaleFigureRecord(attack.cleanFigures, toFraction)!,
      ...(attack.estimates ? { estimates: scaleFigureRecord(attack.estimates, toFraction) } : {}),
      ...(attack.cleanEstimates
        ? { cleanEstimates: scaleFigureRecord(attack.cleanEstimates, toFraction) }
        : {}),
      recallAt1UnderAttack: maybe(attack.recallAt1UnderAttack),
    })),
    figures: scaleFigureRecord(report.figures, toFraction)!,
    ...(report.estimates ? { estimates: scaleReportEstimates(report.estimates, toFraction) } : {}),
    ers: maybe(report.ers),
    adversarialRecallAt1: maybe(report.adversarialRecallAt1),
    curve: report.curve.map(curvePointInFractions),
    candidateRanks: ranksInFractions(report.candidateRanks),
    sanity: scaleSanity(report.sanity, toFraction),
  };
}

const REPORT_UNITS =
  `Rates (R@1, MAP@R, ES:R, LTM, GTM, GTT retain@4), percentile ranks (CA+, CA-, QA+, QA-, candidate ranks) ` +
  `and ERS, with their intervals and chance levels, each a ${FRACTION}; TMA is a cosine, ES:D a distance`;

export class ProbeViewDto extends JobViewDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'The configuration with defaults (model, attacks, eps, steps, probe set, seed, ...)',
  })
  config!: ProbeConfig;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: `The report once the probe succeeded (null before). ${REPORT_UNITS}.`,
  })
  report!: ProbeReport | null;
}

export class ProbeHeadlineDto {
  @ApiProperty({ description: `Clean R@1, a ${FRACTION}` }) cleanRecallAt1!: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: `R@1 under ES at the primary eps, a ${FRACTION}; null: ES did not run`,
  })
  adversarialRecallAt1!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: `Empirical robustness score as a ${FRACTION} (of its 100 points); null unless all nine attacks ran`,
  })
  ers!: number | null;
  @ApiProperty({ description: 'Sanity warnings in the report' }) warnings!: number;
}

export class ProbeSummaryDto extends JobViewDto {
  @ApiProperty({ type: 'object', additionalProperties: true }) config!: ProbeConfig;
  @ApiProperty({
    type: ProbeHeadlineDto,
    nullable: true,
    description: "The report's headline figures (null until it succeeded)",
  })
  summary!: ProbeHeadlineDto | null;
}

export const ProbePageDto = PageOf(ProbeSummaryDto, 'ProbePageDto');

/** The report as the probe stored it (0..100 scale): what the HTML page renders. */
export function storedProbeReport(job: Job): ProbeReport | null {
  return (job.result as { report?: ProbeReport } | null)?.report ?? null;
}

export function probeView(job: Job): ProbeViewDto {
  const report = storedProbeReport(job);
  return {
    ...jobView(job),
    config: (job.payload as { config: ProbeConfig }).config,
    report: report && probeReportInFractions(report),
  };
}

/** The view without its report, with the report's headline figures. */
export function probeSummary(job: Job): ProbeSummaryDto {
  const { report, ...view } = probeView(job);
  return {
    ...view,
    summary: report
      ? {
          cleanRecallAt1: report.clean.recallAt1,
          adversarialRecallAt1: report.adversarialRecallAt1,
          ers: report.ers,
          warnings: report.sanity.warnings.length,
        }
      : null,
  };
}
