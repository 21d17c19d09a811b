import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth } from '../../common/auth.decorators';
import { ATTACK_NAMES } from '../../ml/attacks/definitions';
import { DEFENSE_NAMES, INNER_NAMES } from '../../ml/defenses';
import { LOSS_NAMES } from '../../ml/losses';
import { BACKBONES } from '../../ml/models';
import { CHANCE_MEANING } from '../../ml/robustness/intervals';
import { FIGURES } from '../../ml/robustness/render';
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
  @ApiOkResponse({
    schema: {
      example: {
        backbones: ['small-cnn', 'mobilenetv2'],
        attacks: ['CA+', 'ES'],
        figures: { 'ES:R': { moreRobust: 'higher', unit: 'R@1 %', percent: true, digits: 1 } },
      },
    },
  })
  get(): ApiMeta {
    return this.meta;
  }
}
