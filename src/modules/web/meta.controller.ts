import { Controller, Get } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth } from '../../common/auth.decorators';
import { ATTACK_NAMES } from '../../ml/attacks/definitions';
import { DEFENSE_NAMES, INNER_NAMES } from '../../ml/defenses';
import { LOSS_NAMES } from '../../ml/losses';
import { BACKBONES } from '../../ml/models';
import { CHANCE_MEANING } from '../../ml/robustness/intervals';
import { FIGURES, type FigureInfo } from '../../ml/robustness/render';
import { FRACTION } from '../../ml/robustness/units';
import { PROBE_SETS } from '../probes/runner/probe-config';
import { DATASET_FORMS } from '../training/dataset-location';

/**
 * The names and rules the API accepts and reports, read from where they are defined, so that clients
 * (the web console) need no copy: the choices of a training job and a probe, and how each figure of the
 * attack suite reads (which way is more robust, its unit, its digits).
 */
export function apiMeta() {
  return {
    backbones: [...BACKBONES],
    losses: [...LOSS_NAMES],
    defenses: [...DEFENSE_NAMES],
    inners: [...INNER_NAMES],
    /** The data set forms a training job names (`iconify[:OPTIONS]`: optional loader options). */
    datasets: [...DATASET_FORMS],
    attacks: [...ATTACK_NAMES],
    probeSets: [...PROBE_SETS],
    figures: FIGURES,
    /** What a figure at, above or below its chance level means. */
    chanceMeaning: CHANCE_MEANING,
  };
}

export type ApiMeta = ReturnType<typeof apiMeta>;

export class FigureInfoDto implements FigureInfo {
  @ApiProperty({ enum: ['higher', 'lower'], description: 'Which way is more robust' })
  moreRobust!: 'higher' | 'lower';
  @ApiProperty({ example: 'R@1 %', description: 'What the figure measures, as displayed' })
  unit!: string;
  @ApiProperty({
    description: `true: a rate, percentile rank or score, given in JSON as a ${FRACTION} and displayed as a percent; false: TMA (cosine) and ES:D (distance), as they are`,
  })
  percent!: boolean;
  @ApiProperty({
    enum: [1, 3],
    description: 'Decimals to display (of the percent for percent figures)',
  })
  digits!: 1 | 3;
}

export class ApiMetaDto implements ApiMeta {
  @ApiProperty({ type: [String] }) backbones!: ApiMeta['backbones'];
  @ApiProperty({ type: [String] }) losses!: ApiMeta['losses'];
  @ApiProperty({ type: [String] }) defenses!: ApiMeta['defenses'];
  @ApiProperty({ type: [String] }) inners!: ApiMeta['inners'];
  @ApiProperty({ type: [String], description: 'Data set forms a training job names' })
  datasets!: ApiMeta['datasets'];
  @ApiProperty({ type: [String] }) attacks!: ApiMeta['attacks'];
  @ApiProperty({ type: [String] }) probeSets!: ApiMeta['probeSets'];
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/FigureInfoDto' },
    description: 'How each figure of the attack suite reads, by name (CA+, ..., GTT)',
  })
  figures!: ApiMeta['figures'];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'What a figure above, at or below its chance level means',
  })
  chanceMeaning!: ApiMeta['chanceMeaning'];
}

@ApiTags('meta')
@ApiKeyAuth()
@Controller('v1')
export class MetaController {
  private readonly meta = apiMeta();

  @Get('meta')
  @ApiOperation({
    summary:
      'Names the API accepts (backbones, losses, defences, attacks, data sets, probe sets) and how each figure of the attack suite reads',
  })
  @ApiExtraModels(FigureInfoDto)
  @ApiOkResponse({ type: ApiMetaDto })
  get(): ApiMeta {
    return this.meta;
  }
}
