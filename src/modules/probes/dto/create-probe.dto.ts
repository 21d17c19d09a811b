import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
} from 'class-validator';
import { BudgetValue } from '../../../common/budget-value';
import { ATTACK_NAMES, parseAttackList } from '../../../ml/attacks/definitions';
import { MODEL_ID_PATTERN } from '../../models/model-registry.service';
import { parseEps, PROBE_LIMITS, PROBE_SETS } from '../runner/probe-config';
import { JsonBoolean } from '../../../common/json-boolean';

function epsProblem(value: unknown): string | null {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return 'eps must be a number or a non-empty list of numbers';
  if (list.length > PROBE_LIMITS.maxEpsValues)
    return `eps lists at most ${PROBE_LIMITS.maxEpsValues} values (got ${list.length})`;
  for (const item of list) {
    const eps = parseEps(item);
    if (!Number.isFinite(eps) || eps < 0 || eps > 1)
      return `eps must be in [0, 1] (a number or a fraction such as "8/255"; got ${JSON.stringify(item)})`;
  }
  return null;
}

function attacksProblem(value: unknown): string | null {
  try {
    parseAttackList(value);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** A class-validator rule from a function that returns the problem or null. */
const Check = (name: string, problem: (value: unknown) => string | null) =>
  ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => problem(value) === null,
      defaultMessage: (args) => problem(args?.value) ?? `${name} is invalid`,
    },
  });

/** POST /v1/probes. Everything is optional; the service fills the defaults of PROBE_DEFAULTS. */
export class CreateProbeDto {
  @ApiPropertyOptional({ description: 'Model version id (default: the deployed model)' })
  @IsOptional()
  @IsString()
  @Matches(MODEL_ID_PATTERN, { message: `model must match ${MODEL_ID_PATTERN}` })
  model?: string;

  @ApiPropertyOptional({
    description: `Attacks: a list of ${ATTACK_NAMES.join(', ')}, a comma-separated string, or 'all' (default all)`,
    example: ['ES', 'CA+'],
  })
  @IsOptional()
  @Check('attacks', attacksProblem)
  attacks?: unknown;

  @ApiPropertyOptional({
    description:
      'Perturbation budget (l-inf, pixels in [0,1]; numbers or fractions such as "8/255"): one value, or a list for an R@1-versus-eps curve (the full suite, ERS and sanity checks use the largest)',
    example: [0, 0.03, 0.1, 0.3],
  })
  @IsOptional()
  @Check('eps', epsProblem)
  eps?: unknown;

  @ApiPropertyOptional({
    description: 'PGD step size, a number or a fraction such as "1/255" (default 3/255)',
    oneOf: [{ type: 'number' }, { type: 'string', example: '1/255' }],
  })
  @IsOptional()
  @BudgetValue()
  @IsNumber({}, { message: 'stepSize must be a number or a fraction such as 1/255' })
  @Min(1e-6, { message: 'stepSize must be > 0' })
  @Max(1, { message: 'stepSize must be <= 1' })
  stepSize?: number;

  @ApiPropertyOptional({ description: 'PGD steps, 1..1000 (default 32)' })
  @IsOptional()
  @IsInt({ message: 'steps must be an integer' })
  @Min(1, { message: 'steps must be at least 1' })
  @Max(PROBE_LIMITS.maxSteps, { message: `steps must be at most ${PROBE_LIMITS.maxSteps}` })
  steps?: number;

  @ApiPropertyOptional({
    description: `Random restarts, 1..${PROBE_LIMITS.maxRestarts} (default 1)`,
  })
  @IsOptional()
  @IsInt({ message: 'restarts must be an integer' })
  @Min(1, { message: 'restarts must be at least 1' })
  @Max(PROBE_LIMITS.maxRestarts, {
    message: `restarts must be at most ${PROBE_LIMITS.maxRestarts}`,
  })
  restarts?: number;

  @ApiPropertyOptional({ description: 'Start PGD at a random point of the ball (default false)' })
  @IsOptional()
  @JsonBoolean()
  @IsBoolean({ message: 'randomStart must be a boolean' })
  randomStart?: boolean;

  @ApiPropertyOptional({
    description: 'Queries attacked (default 100; at most the probe set size)',
  })
  @IsOptional()
  @IsInt({ message: 'sampleSize must be an integer' })
  @Min(1, { message: 'sampleSize must be at least 1' })
  @Max(PROBE_LIMITS.maxSampleSize, {
    message: `sampleSize must be at most ${PROBE_LIMITS.maxSampleSize}`,
  })
  sampleSize?: number;

  @ApiPropertyOptional({
    description: "'dataset:mnist' (its held-out classes) or 'gallery' (labelled gallery items)",
    enum: PROBE_SETS,
  })
  @IsOptional()
  @IsIn(PROBE_SETS, { message: `probeSet must be one of ${PROBE_SETS.join(', ')}` })
  probeSet?: string;

  @ApiPropertyOptional({
    description: 'At most this many probe-set images form the clean gallery (default 1000)',
  })
  @IsOptional()
  @IsInt({ message: 'gallerySize must be an integer' })
  @Min(2, { message: 'gallerySize must be at least 2' })
  @Max(PROBE_LIMITS.maxGallerySize, {
    message: `gallerySize must be at most ${PROBE_LIMITS.maxGallerySize}`,
  })
  gallerySize?: number;

  @ApiPropertyOptional({
    description: 'Seed of the sample, the targets and the random starts (default 0)',
  })
  @IsOptional()
  @IsInt({ message: 'seed must be an integer' })
  @Min(0, { message: 'seed must be >= 0' })
  seed?: number;

  @ApiPropertyOptional({
    description: `Worst examples kept as PNGs, 0..${PROBE_LIMITS.maxExamples} (default 4)`,
  })
  @IsOptional()
  @IsInt({ message: 'examples must be an integer' })
  @Min(0, { message: 'examples must be >= 0' })
  @Max(PROBE_LIMITS.maxExamples, {
    message: `examples must be at most ${PROBE_LIMITS.maxExamples}`,
  })
  examples?: number;

  @ApiPropertyOptional({
    description: 'Queries per candidate of CA+/CA- (default 1, as `rir attack`)',
  })
  @IsOptional()
  @IsInt({ message: 'queriesPerCandidate must be an integer' })
  @Min(1, { message: 'queriesPerCandidate must be at least 1' })
  @Max(PROBE_LIMITS.maxQueriesPerCandidate, {
    message: `queriesPerCandidate must be at most ${PROBE_LIMITS.maxQueriesPerCandidate}`,
  })
  queriesPerCandidate?: number;
}
