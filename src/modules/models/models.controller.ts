import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Patch,
  PipeTransform,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyAuth, Roles } from '../auth';
import { DeployAccepted, DeployService } from './deploy.service';
import { PageQueryDto } from '../../common/page-query';
import { pageOf, type Page } from '../../common/paging';
import { DeployAcceptedDto, ModelPageDto, ModelViewDto } from './dto/model-view.dto';
import { RenameModelDto } from './dto/rename-model.dto';
import {
  MODEL_ID_PATTERN,
  ModelRegistryService,
  ModelView,
  toModelView,
} from './model-registry.service';

class ModelIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!MODEL_ID_PATTERN.test(value))
      throw new BadRequestException(`model id must match ${MODEL_ID_PATTERN}`);
    return value;
  }
}

@ApiTags('models')
@ApiKeyAuth()
@Roles('admin')
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly registry: ModelRegistryService,
    private readonly deploys: DeployService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'Model versions side by side: status, natural and adversarial figures with 95% intervals, manifest, deploy progress',
  })
  @ApiOkResponse({ type: ModelPageDto })
  async list(@Query() query: PageQueryDto): Promise<Page<ModelView>> {
    return pageOf(await this.registry.list(), query.page ?? 1, query.limit ?? 100);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One model version' })
  @ApiOkResponse({ type: ModelViewDto, description: 'The model' })
  @ApiNotFoundResponse({ description: 'No model with this id' })
  async get(@Param('id', new ModelIdPipe()) id: string): Promise<ModelView> {
    return toModelView(await this.registry.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: "Rename a model version (its id stays; the name is what lists show)" })
  @ApiOkResponse({ type: ModelViewDto, description: 'The renamed model' })
  @ApiBadRequestResponse({ description: 'Malformed name' })
  @ApiNotFoundResponse({ description: 'No model with this id' })
  @ApiConflictResponse({ description: 'Another model has this name' })
  async rename(
    @Param('id', new ModelIdPipe()) id: string,
    @Body() body: RenameModelDto,
  ): Promise<ModelView> {
    return toModelView(await this.registry.rename(id, body.name));
  }

  @Post(':id/deploy')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Re-embed the gallery with this model in the background, then swap it in atomically',
  })
  @ApiAcceptedResponse({ type: DeployAcceptedDto })
  @ApiNotFoundResponse({ description: 'No model with this id' })
  @ApiConflictResponse({ description: 'Another model is being deployed' })
  deploy(@Param('id', new ModelIdPipe()) id: string): Promise<DeployAccepted> {
    return this.deploys.requestDeploy(id);
  }
}
