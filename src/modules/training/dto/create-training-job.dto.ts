import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  DEFAULT_FREE_REPLAYS,
  DEFAULT_OVERFIT_ACTION,
  DEFENSE_NAMES,
  INNER_NAMES,
  OVERFIT_ACTIONS,
  type InnerName,
  type OverfitAction,
} from '../../../ml/defenses/options';
import { BudgetValue } from '../../../common/budget-value';
import { LOSS_NAMES } from '../../../ml/losses';
import { ListJobsQueryDto } from '../../jobs/dto/list-jobs-query.dto';
import { MODEL_NAME_PATTERN, modelNameMessage } from '../../models/model-name';
import { BACKBONES } from '../../../ml/models';
import { JsonBoolean } from '../../../common/json-boolean';

const oneOf = (what: string, names: readonly string[], plural = `${what}s`) => ({
  message: `unknown ${what} '$value': valid ${plural} are ${names.join(', ')}`,
});

/** The defence's parameters; the robust defences read eps, steps, stepSize and weight. */
export class DefenseParamsDto {
  @ApiPropertyOptional({
    description: 'L-inf budget (pixels in [0,1]): a number or a fraction such as "8/255"',
    default: 8 / 255,
    oneOf: [{ type: 'number' }, { type: 'string', example: '8/255' }],
  })
  @IsOptional()
  @BudgetValue()
  @IsNumber({}, { message: 'eps must be a number or a fraction such as 8/255' })
  @Min(0, { message: 'eps must be in [0, 1]' })
  @Max(1, { message: 'eps must be in [0, 1]' })
  eps?: number;

  @ApiPropertyOptional({ description: 'PGD steps of the inner maximisation', default: 8 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  steps?: number;

  @ApiPropertyOptional({
    description:
      'PGD step size, a number or a fraction such as "1/255" (default 2.5 * eps / steps)',
    oneOf: [{ type: 'number' }, { type: 'string', example: '1/255' }],
  })
  @IsOptional()
  @BudgetValue()
  @IsNumber({}, { message: 'stepSize must be a number or a fraction such as 1/255' })
  @Min(1e-9, { message: 'stepSize must be > 0' })
  @Max(1)
  stepSize?: number;

  @ApiPropertyOptional({ description: 'Weight of the adversarial term (panum, naive)', default: 1 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  weight?: number;
}

export class CreateTrainingJobDto {
  @ApiProperty({
    description:
      "Data set: 'mnist' (digits 0-4 train, 5-9 test), 'mnist-all' (all ten digits, MNIST train split against its test split), 'iconify' or 'emoji' (optionally with loader options, e.g. 'iconify:classes=20'), 'folder:PATH' or 'idx:IMAGES,LABELS' (paths relative to an allowed data root), or 'gallery' (the gallery's labelled images)",
    example: 'mnist',
  })
  @IsString()
  @MaxLength(1000)
  dataset!: string;

  @ApiPropertyOptional({
    description:
      "Name of the model version it registers (unique; 409 if a model has it). Default '<dataset>-<defense>-<YYYY-MM-DD>'; '-2', '-3', ... is added when a model took the name meanwhile",
    pattern: MODEL_NAME_PATTERN.source,
    example: 'mnist-panum-v1',
  })
  @IsOptional()
  @Matches(MODEL_NAME_PATTERN, { message: modelNameMessage })
  name?: string;

  @ApiPropertyOptional({ enum: BACKBONES, default: 'small-cnn' })
  @IsOptional()
  @IsIn(BACKBONES, oneOf('backbone', BACKBONES))
  backbone?: (typeof BACKBONES)[number];

  @ApiPropertyOptional({
    description:
      'mobilenetv2* backbones: train the pretrained backbone as well as the head (default false: the pretrained layers stay frozen and only the head learns)',
    default: false,
  })
  @IsOptional()
  @JsonBoolean()
  @IsBoolean({ message: 'trainBackbone must be true or false' })
  trainBackbone?: boolean;

  @ApiPropertyOptional({
    description: 'Input size of decoded images (folder:, gallery)',
    default: 64,
  })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(224)
  imageSize?: number;

  @ApiPropertyOptional({ enum: LOSS_NAMES, default: 'triplet' })
  @IsOptional()
  @IsIn(LOSS_NAMES, oneOf('loss', LOSS_NAMES, 'losses'))
  loss?: string;

  @ApiPropertyOptional({ enum: DEFENSE_NAMES, default: 'none' })
  @IsOptional()
  @IsIn(DEFENSE_NAMES, oneOf('defense', DEFENSE_NAMES))
  defense?: string;

  @ApiPropertyOptional({ type: DefenseParamsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => DefenseParamsDto)
  defenseParams?: DefenseParamsDto;

  @ApiPropertyOptional({
    enum: INNER_NAMES,
    default: 'pgd',
    description:
      "The defence's inner maximisation: 'pgd' (its PGD steps), 'fast' (one step of 1.25 eps from a random start) or 'free' (each batch replayed freeReplays times, one backward pass per replay; panum and naive only)",
  })
  @IsOptional()
  @IsIn(INNER_NAMES, oneOf('inner method', INNER_NAMES))
  inner?: InnerName;

  @ApiPropertyOptional({
    description: "inner 'free': replays per batch (an epoch keeps its step count)",
    default: DEFAULT_FREE_REPLAYS,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  freeReplays?: number;

  @ApiPropertyOptional({
    enum: OVERFIT_ACTIONS,
    default: DEFAULT_OVERFIT_ACTION,
    description:
      "inner 'fast' / 'free': what happens when the per-epoch catastrophic-overfitting check fires (PGD robust R@1 of validation queries collapses while the fast step's does not): 'warn', 'stop' or 'fallback' (PGD for the remaining epochs)",
  })
  @IsOptional()
  @IsIn(OVERFIT_ACTIONS, oneOf('overfitting action', OVERFIT_ACTIONS))
  onOverfit?: OverfitAction;

  @ApiPropertyOptional({ default: 5 })
  @IsOptional()
  @IsInt()
  @Min(1, { message: 'epochs must be at least 1' })
  @Max(1000)
  epochs?: number;

  @ApiPropertyOptional({ default: 128 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(4096)
  batchSize?: number;

  @ApiPropertyOptional({
    description: 'Images per class in a batch (m of the sampler); default 8 (32 for mnist)',
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(1024)
  perClass?: number;

  @ApiPropertyOptional({ default: 128 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(2048)
  embeddingDim?: number;

  @ApiPropertyOptional({ default: 0.001 })
  @IsOptional()
  @IsNumber()
  @Min(1e-7)
  @Max(1)
  learningRate?: number;

  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  seed?: number;

  @ApiPropertyOptional({ description: 'Steps per epoch (default: training images / batch size)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  stepsPerEpoch?: number;

  @ApiPropertyOptional({ description: 'Use at most this many training images (quick runs)' })
  @IsOptional()
  @IsInt()
  @Min(2)
  maxTrainImages?: number;

  @ApiPropertyOptional({
    description: 'Use at most this many validation images (held out of the training classes)',
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  maxValidationImages?: number;

  @ApiPropertyOptional({ description: 'Use at most this many held-out (test) images' })
  @IsOptional()
  @IsInt()
  @Min(2)
  maxTestImages?: number;

  @ApiPropertyOptional({
    description: 'Held-out queries attacked for the robustness figure',
    default: 100,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10000)
  robustnessSamples?: number;

  @ApiPropertyOptional({ description: 'PGD steps of that attack', default: 10 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  robustnessSteps?: number;

  @ApiPropertyOptional({
    description:
      'Checkpoint within an epoch after this many steps, or after checkpointEveryMinutes, whichever comes first (a job whose worker dies resumes from there)',
    default: 500,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  checkpointEverySteps?: number;

  @ApiPropertyOptional({
    description: 'Checkpoint within an epoch after this many minutes (see checkpointEverySteps)',
    default: 2,
  })
  @IsOptional()
  @IsNumber()
  @Min(0.1)
  @Max(1440)
  checkpointEveryMinutes?: number;
}

/** GET /v1/training-jobs: the job lists' status filter and bounded limit. */
export class ListTrainingJobsQueryDto extends ListJobsQueryDto {}
