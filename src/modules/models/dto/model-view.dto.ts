/**
 * GET /v1/models (and /v1/models/:id, PATCH /v1/models/:id): a model version as the API shows it, with
 * the robustness block of its manifest (src/ml/model-store/robustness-block.ts) typed for OpenAPI.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageOf } from '../../../common/page-query';
import { ATTACK_NAMES, type AttackName } from '../../../ml/attacks/definitions';
import { FRACTION } from '../../../ml/robustness/units';
import {
  ROBUSTNESS_BUDGETS,
  WORST_OF_FIGURES,
  type ManifestEstimate,
  type RobustnessBlock,
  type RobustnessBudget,
  type WorstOfFigure,
} from '../../../ml/model-store/robustness-block';
import { MODEL_STATUSES, type DeployProgress, type ModelStatus } from '../model.entity';

export class EstimateDto implements ManifestEstimate {
  @ApiProperty({
    description: `The figure, a ${FRACTION} (R@1 and MAP@R; ERS as a fraction of its 100 points)`,
  })
  value!: number;
  @ApiProperty({ description: 'Lower end of its 95% interval, same unit' }) low!: number;
  @ApiProperty({ description: 'Upper end of its 95% interval, same unit' }) high!: number;
  @ApiProperty({ description: 'Queries it was measured on' }) n!: number;
  @ApiProperty({
    enum: ['wilson', 'bootstrap'],
    description: 'Wilson score interval (rates) or seeded bootstrap over queries (means, ERS)',
  })
  method!: 'wilson' | 'bootstrap';
}

export class WorstEstimateDto extends EstimateDto {
  @ApiProperty({ enum: WORST_OF_FIGURES, description: 'Which of ES:R, LTM and GTM is the lowest' })
  figure!: WorstOfFigure;
}

export class NaturalFiguresDto {
  @ApiProperty({ type: EstimateDto, description: `R@1 of the clean queries (${FRACTION})` })
  recallAt1!: EstimateDto;
  @ApiPropertyOptional({ type: EstimateDto, description: `MAP@R of the clean queries (${FRACTION})` })
  mapAtR?: EstimateDto;
}

export class AdversarialFiguresDto {
  @ApiProperty({
    type: EstimateDto,
    nullable: true,
    description: `ES:R: R@1 of embedding-shifted queries (${FRACTION}); null: ES did not run`,
  })
  esR!: EstimateDto | null;
  @ApiProperty({ type: EstimateDto, nullable: true, description: `LTM R@1 (${FRACTION})` })
  ltm!: EstimateDto | null;
  @ApiProperty({ type: EstimateDto, nullable: true, description: `GTM R@1 (${FRACTION})` })
  gtm!: EstimateDto | null;
  @ApiProperty({
    type: WorstEstimateDto,
    nullable: true,
    description: 'The lowest of ES:R, LTM and GTM; null unless all three ran',
  })
  worstRecallAt1!: WorstEstimateDto | null;
  @ApiProperty({
    type: EstimateDto,
    nullable: true,
    description: `Empirical robustness score as a ${FRACTION} of its 100 points (1 ideal); null unless all nine attacks ran`,
  })
  ers!: EstimateDto | null;
}

export class ChanceDto {
  @ApiProperty({ description: `R@1 of a random ranking of the same gallery (${FRACTION})` })
  recallAt1!: number;
}

export class AttackBudgetDto {
  @ApiProperty({ description: 'L-inf budget (fraction of the pixel range, e.g. 0.302 = 77/255)' })
  eps!: number;
  @ApiProperty({ description: 'PGD step size' }) alpha!: number;
  @ApiProperty() steps!: number;
  @ApiProperty() restarts!: number;
  @ApiProperty({ enum: ATTACK_NAMES, isArray: true }) attacks!: AttackName[];
  @ApiProperty({ description: 'Queries attacked' }) sampleSize!: number;
  @ApiProperty({ description: 'Images in the clean gallery' }) gallerySize!: number;
  @ApiProperty() seed!: number;
  @ApiProperty({ description: 'Whether the strength checks ran' }) strengthChecks!: boolean;
}

export class RobustnessBlockDto implements RobustnessBlock {
  @ApiProperty({ type: NaturalFiguresDto }) natural!: NaturalFiguresDto;
  @ApiProperty({
    type: AdversarialFiguresDto,
    nullable: true,
    description: 'null: not attacked (see note)',
  })
  adversarial!: AdversarialFiguresDto | null;
  @ApiProperty({ type: ChanceDto }) chance!: ChanceDto;
  @ApiProperty({ type: AttackBudgetDto }) attack!: AttackBudgetDto;
  @ApiProperty({
    enum: ROBUSTNESS_BUDGETS,
    description:
      "'full suite': all nine attacks, strength checks, at least 1,000 queries; otherwise 'quick suite' (training jobs)",
  })
  budget!: RobustnessBudget;
  @ApiProperty({ description: 'The evaluation data', example: 'mnist' }) data!: string;
  @ApiProperty({ description: 'When the figures were measured (ISO 8601)' }) date!: string;
  @ApiProperty({ description: 'The command or job that measured them' }) command!: string;
  @ApiProperty({ description: 'The weights they were measured on (the hash in the manifest)' })
  weightsSha256!: string;
  @ApiPropertyOptional({ type: [String], description: "The report's sanity warnings" })
  warnings?: string[];
  @ApiPropertyOptional({ description: 'Why adversarial is null' }) note?: string;
}

export class DeployProgressDto implements DeployProgress {
  @ApiProperty() embedded!: number;
  @ApiProperty() total!: number;
  @ApiProperty() startedAt!: string;
  @ApiPropertyOptional() finishedAt?: string;
}

export class ModelViewDto {
  @ApiProperty({ description: 'The directory name (train-<job id> for trained versions)' })
  id!: string;
  @ApiProperty({ description: 'Readable and unique; PATCH /v1/models/:id changes it' })
  name!: string;
  @ApiProperty({ enum: MODEL_STATUSES }) status!: ModelStatus;
  @ApiProperty({ description: 'Whether it serves searches' }) active!: boolean;
  @ApiProperty() embeddingDim!: number;
  @ApiProperty() directory!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: `manifest.json as registered (architecture, training config, metrics), its rates as fractions (${FRACTION}) like every figure of the API`,
  })
  manifest!: Record<string, unknown>;
  @ApiProperty({
    type: RobustnessBlockDto,
    nullable: true,
    description:
      'Natural and adversarial figures with 95% intervals (the robustness block of its manifest); null: not measured',
  })
  robustness!: RobustnessBlockDto | null;
  @ApiProperty({ type: DeployProgressDto, nullable: true })
  deployProgress!: DeployProgressDto | null;
  @ApiProperty({ type: String, nullable: true }) deployError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ type: String, nullable: true }) deployedAt!: string | null;
}

export const ModelPageDto = PageOf(ModelViewDto, 'ModelPageDto');

export class DeployAcceptedDto {
  @ApiProperty({ description: 'The model version' }) id!: string;
  @ApiProperty({
    enum: ['deploying', 'deployed'],
    description: 'deploying: re-embedding in the background (see deployProgress); deployed: serving',
  })
  status!: 'deploying' | 'deployed';
}
