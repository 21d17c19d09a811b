import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyAuth, Roles } from '../../common';
import type { Page } from '../../common/paging';
import { JobAcceptedDto } from '../jobs';
import { CreateTrainingJobDto, ListTrainingJobsQueryDto } from './dto/create-training-job.dto';
import { TrainingJobPageDto, TrainingJobViewDto } from './training-job.view';
import { TrainingService } from './training.service';

@ApiTags('training')
@ApiKeyAuth()
@Roles('admin')
@Controller('v1/training-jobs')
export class TrainingController {
  constructor(private readonly training: TrainingService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start a (robust) training job; the model it trains is registered when it ends',
  })
  @ApiAcceptedResponse({ type: JobAcceptedDto, description: 'Queued' })
  @ApiBadRequestResponse({ description: 'Invalid request; no job was created' })
  create(@Body() dto: CreateTrainingJobDto): Promise<JobAcceptedDto> {
    return this.training.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'Training jobs, newest first, optionally by status' })
  @ApiOkResponse({ type: TrainingJobPageDto })
  list(@Query() query: ListTrainingJobsQueryDto): Promise<Page<TrainingJobViewDto>> {
    return this.training.list(query.status, query.page ?? 1, query.limit ?? 100);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One training job: status, progress with ETA, metrics, model id' })
  @ApiOkResponse({ type: TrainingJobViewDto })
  @ApiNotFoundResponse({ description: 'No training job with this id' })
  get(@Param('id') id: string): Promise<TrainingJobViewDto> {
    return this.training.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a job: a queued one at once, a running one within seconds' })
  @ApiAcceptedResponse({
    type: TrainingJobViewDto,
    description: 'The job, cancelled or asked to stop',
  })
  @ApiNotFoundResponse({ description: 'No training job with this id' })
  cancel(@Param('id') id: string): Promise<TrainingJobViewDto> {
    return this.training.cancel(id);
  }
}
