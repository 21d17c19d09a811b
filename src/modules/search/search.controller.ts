import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ClientAbort } from '../../common/client-abort';
import { FileUpload, UploadedPartOne } from '../../common/multipart';
import { ApiKeyAuth, Roles } from '../auth';
import type { UploadedImage } from '../../common/image-validation';
import {
  MAX_EF,
  MAX_K,
  SearchResponseDto,
  SearchUploadDto,
  SimilarQueryDto,
} from './dto/search-query.dto';
import { SearchResponse, SearchService } from './search.service';

@ApiTags('search')
@ApiKeyAuth()
@Roles('search')
@Controller('v1/search')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Post()
  @HttpCode(200)
  @UseInterceptors(FileUpload('file'))
  @ApiOperation({ summary: 'Find the gallery items most similar to an uploaded image' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary' },
        k: { type: 'integer', minimum: 1, maximum: MAX_K, default: 10 },
        ef: { type: 'integer', minimum: 1, maximum: MAX_EF },
        minScore: { type: 'number', minimum: -1, maximum: 1 },
        label: { type: 'string', maxLength: 200 },
      },
    },
  })
  @ApiOkResponse({ type: SearchResponseDto })
  @ApiBadRequestResponse({ description: 'Missing or undecodable image, k out of range, ef < k' })
  byUpload(
    @UploadedPartOne() file: UploadedImage | undefined,
    @Body() body: SearchUploadDto,
    @ClientAbort() signal: AbortSignal,
  ): Promise<SearchResponse> {
    return this.search.searchByImage(file, body, signal);
  }

  @Get('similar/:id')
  @ApiOperation({
    summary: 'Find the gallery items most similar to a gallery item (itself excluded)',
  })
  @ApiOkResponse({ type: SearchResponseDto })
  @ApiNotFoundResponse({ description: 'No gallery item with this id' })
  byId(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: SimilarQueryDto,
  ): SearchResponse {
    return this.search.searchById(id, query);
  }
}
