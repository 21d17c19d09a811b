import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyAuth, Roles } from '../../common';
import { CreateTrainingJobDto, ListTrainingJobsQueryDto } from './dto/create-training-job.dto';
import { TrainingJobView } from './training-job.view';
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
  @ApiAcceptedResponse({ description: '{ id, status }' })
  @ApiBadRequestResponse({ description: 'Invalid request; no job was created' })
  create(@Body() dto: CreateTrainingJobDto): Promise<{ id: string; status: string }> {
    return this.training.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'Training jobs, newest first, optionally by status' })
  list(@Query() query: ListTrainingJobsQueryDto): Promise<TrainingJobView[]> {
    return this.training.list(query.status, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One training job: status, progress with ETA, metrics, model id' })
  @ApiNotFoundResponse({ description: 'No training job with this id' })
  get(@Param('id') id: string): Promise<TrainingJobView> {
    return this.training.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a job: a queued one at once, a running one within seconds' })
  @ApiNotFoundResponse({ description: 'No training job with this id' })
  cancel(@Param('id') id: string): Promise<TrainingJobView> {
    return this.training.cancel(id);
  }
}
