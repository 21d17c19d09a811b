import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyAuth, Roles } from '../../common/auth.decorators';
import { ApiKeysService, CreatedApiKey } from './api-keys.service';
import { PageQueryDto } from '../../common/page-query';
import { pageOf, type Page } from '../../common/paging';
import type { ApiKey } from './api-key.entity';
import { ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/create-api-key.dto';

@ApiTags('api-keys')
@ApiKeyAuth()
@Roles('admin')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key (the key is returned only in this response)' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKey> {
    return this.apiKeys.create(body.name.trim(), body.role);
  }

  @Get()
  @ApiOperation({ summary: 'List active API keys (without their secrets)' })
  @ApiOkResponse({ type: ApiKeyPageDto })
  async list(@Query() query: PageQueryDto): Promise<Page<Omit<ApiKey, 'keyHash'>>> {
    return pageOf(await this.apiKeys.list(), query.page ?? 1, query.limit ?? 100);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiNotFoundResponse({ description: 'No active key with this id' })
  async revoke(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.apiKeys.revoke(id);
  }
}
