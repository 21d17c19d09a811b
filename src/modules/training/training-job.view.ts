import { ApiProperty } from '@nestjs/swagger';
import { PageOf } from '../../common/page-query';
import { FRACTION, percentToFraction, scaleQuickRobustness } from '../../ml/robustness/units';
import { Job, jobView, JobViewDto } from '../jobs';
import type { TrainingJobResult, TrainingJobSpec } from './training-spec';

/** A training job as the API shows it: the job's view and what training adds. Rates in fractions. */
export class TrainingJobViewDto extends JobViewDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'The validated request (dataset, backbone, loss, defense and its options, epochs, ...)',
  })
  spec!: TrainingJobSpec;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description:
      `Retrieval metrics on the held-out classes when finished: recallAt1/2/4/8, mapAtR, bestValidationRecallAt1 ` +
      `(each a ${FRACTION}), nmi, count, timings; robustness: the figure below`,
  })
  metrics!: Record<string, unknown> | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description:
      `Held-out queries under the ES attack at the job's eps (when finished): naturalRecallAt1, recallAt1UnderAttack, ` +
      `chanceRecallAt1 and their estimates (value, low, high), each a ${FRACTION}; embeddingShift (ES:D) is a distance`,
  })
  robustness!: Record<string, unknown> | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The registered model version (deploy it with POST /v1/models/:id/deploy)',
  })
  modelId!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description:
      'Everything the job left (metrics and robustness as above, checkpoint, resumedFrom, ...)',
  })
  result!: TrainingJobResult | null;
}

export const TrainingJobPageDto = PageOf(TrainingJobViewDto, 'TrainingJobPageDto');

/** The job's result with its stored 0..100 figures (ML core scale) as fractions. */
function resultInFractions(result: TrainingJobResult | null): TrainingJobResult | null {
  if (!result) return null;
  const out: TrainingJobResult = { ...result };
  if (result.robustness)
    out.robustness = scaleQuickRobustness(result.robustness, percentToFraction)!;
  if (result.metrics?.robustness) {
    out.metrics = {
      ...result.metrics,
      robustness: scaleQuickRobustness(
        result.metrics.robustness as Record<string, unknown>,
        percentToFraction,
      ),
    };
  }
  return out;
}

export function toTrainingJobView(job: Job): TrainingJobViewDto {
  const result = resultInFractions(job.result as TrainingJobResult | null);
  return {
    ...jobView(job),
    spec: job.payload as unknown as TrainingJobSpec,
    metrics: result?.metrics ?? null,
    robustness: result?.robustness ?? null,
    modelId: result?.modelId ?? null,
    result,
  };
}
