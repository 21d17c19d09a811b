import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Throttle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { ApiKeyAuth, Roles } from '../../common';
import { ListJobsQueryDto } from '../jobs/dto/list-jobs-query.dto';
import { CreateProbeDto } from './dto/create-probe.dto';
import type { Page } from '../../common/paging';
import { JobAcceptedDto } from '../jobs';
import { ProbePageDto, ProbeSummaryDto, ProbeViewDto } from './probe-view';
import { ProbesService } from './probes.service';

/** Probes are expensive: a tighter limit than the app default, per client. */
export const PROBE_RATE_LIMIT = { limit: 20, ttl: 60_000 };

/** A probe id in the path: 400 when it is not a UUID (no probe can have it). */
const probeId = () =>
  new ParseUUIDPipe({
    exceptionFactory: () => new BadRequestException('probe id must be a UUID'),
  });

@ApiTags('probes')
@ApiKeyAuth()
@Roles('security')
@Controller('v1/probes')
export class ProbesController {
  constructor(private readonly probes: ProbesService) {}

  @Post()
  @HttpCode(202)
  @Throttle({ default: PROBE_RATE_LIMIT })
  @ApiOperation({
    summary: 'Start a security probe: the attack suite against a model, as a background job',
  })
  @ApiAcceptedResponse({ type: JobAcceptedDto, description: 'Queued' })
  @ApiBadRequestResponse({ description: 'Invalid configuration (nothing is queued)' })
  @ApiNotFoundResponse({ description: 'Unknown model' })
  @ApiTooManyRequestsResponse({ description: 'Rate limited (Retry-After)' })
  create(@Body() dto: CreateProbeDto): Promise<JobAcceptedDto> {
    return this.probes.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'Probes, newest first, with status, progress and headline figures' })
  @ApiOkResponse({ type: ProbePageDto })
  list(@Query() query: ListJobsQueryDto): Promise<Page<ProbeSummaryDto>> {
    return this.probes.list(query.status, query.page ?? 1, query.limit ?? 100);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One probe: status and progress, then its report' })
  @ApiOkResponse({ type: ProbeViewDto })
  @ApiNotFoundResponse({ description: 'No probe with this id' })
  @ApiBadRequestResponse({ description: 'The id is not a UUID' })
  get(@Param('id', probeId()) id: string): Promise<ProbeViewDto> {
    return this.probes.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a queued or running probe' })
  @ApiAcceptedResponse({ type: ProbeViewDto, description: 'The probe, cancelled or asked to stop' })
  @ApiNotFoundResponse({ description: 'No probe with this id' })
  cancel(@Param('id', probeId()) id: string): Promise<ProbeViewDto> {
    return this.probes.cancel(id);
  }

  @Get(':id/report.html')
  @ApiProduces('text/html')
  @ApiOperation({
    summary: 'The report as one self-contained HTML page, with the R@1-versus-eps curve',
  })
  @ApiOkResponse({
    description: 'The page (text/html); errors are JSON as everywhere',
    schema: { type: 'string' },
  })
  @ApiNotFoundResponse({ description: 'No probe with this id' })
  @ApiBadRequestResponse({ description: 'The id is not a UUID' })
  async reportHtml(
    @Param('id', probeId()) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const html = await this.probes.reportHtml(id);
    // Set only once there is a page: an error must keep the JSON body's content type.
    reply.type('text/html; charset=utf-8');
    return html;
  }

  @Get(':id/examples/:file')
  @ApiProduces('image/png')
  @ApiOperation({
    summary: 'Example n as PNG (examples/N.png): original | adversarial | amplified perturbation',
  })
  @ApiOkResponse({ description: 'The PNG', schema: { type: 'string', format: 'binary' } })
  @ApiNotFoundResponse({ description: 'No probe with this id, or no example n' })
  async example(
    @Param('id', probeId()) id: string,
    @Param('file') file: string,
  ): Promise<StreamableFile> {
    const match = /^(\d{1,3})\.png$/.exec(file);
    if (!match) throw new BadRequestException(`expected examples/<n>.png (got '${file}')`);
    const png = await this.probes.examplePng(id, Number(match[1]));
    return new StreamableFile(png, { type: 'image/png', length: png.length });
  }
}
