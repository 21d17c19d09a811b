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
  Res,
  UseInterceptors,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { FilesUpload, UploadedParts } from '../../common/multipart';
import { ApiKeyAuth, Roles } from '../auth';
import type { Page } from '../../common/paging';
import {
  GalleryItemDto,
  GalleryPageDto,
  ListImagesQueryDto,
  UploadedImagesDto,
  UploadImagesDto,
} from './dto/gallery.dto';
import { GalleryItemView, GalleryService, IngestedItem, toView } from './gallery.service';
import type { UploadedImage } from '../../common/image-validation';

@ApiTags('gallery')
@ApiKeyAuth()
@Controller('v1/gallery/images')
export class GalleryController {
  constructor(private readonly gallery: GalleryService) {}

  @Post()
  @Roles('admin')
  @UseInterceptors(FilesUpload('files'))
  @ApiOperation({
    summary: 'Add images to the gallery (validated, de-duplicated by content, embedded, indexed)',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['files'],
      properties: {
        files: { type: 'array', items: { type: 'string', format: 'binary' } },
        label: { type: 'string' },
        metadata: { type: 'string', description: 'A JSON object' },
      },
    },
  })
  @ApiCreatedResponse({
    type: UploadedImagesDto,
    description: 'The items, each with duplicate: true when the content was already there',
  })
  @ApiBadRequestResponse({
    description: 'Empty, truncated or non-image file, malformed metadata; nothing is stored',
  })
  async upload(
    @UploadedParts() files: UploadedImage[],
    @Body() body: UploadImagesDto,
  ): Promise<{ items: IngestedItem[] }> {
    return { items: await this.gallery.ingest(files, body.label, body.metadata) };
  }

  @Get()
  @Roles('search')
  @ApiOperation({ summary: 'List gallery items, oldest first, optionally by label' })
  @ApiOkResponse({ type: GalleryPageDto })
  list(@Query() query: ListImagesQueryDto): Promise<Page<GalleryItemView>> {
    return this.gallery.list(query.page ?? 1, query.limit ?? 50, query.label);
  }

  @Get(':id')
  @Roles('search')
  @ApiOperation({ summary: 'One gallery item' })
  @ApiOkResponse({ type: GalleryItemDto, description: 'The item' })
  @ApiNotFoundResponse({ description: 'No gallery item with this id' })
  async get(@Param('id', new ParseUUIDPipe()) id: string): Promise<GalleryItemView> {
    return toView(await this.gallery.get(id));
  }

  @Get(':id/content')
  @Roles('search')
  @ApiOperation({ summary: 'The stored image bytes' })
  @ApiProduces('image/png', 'image/jpeg', 'image/webp', 'image/gif')
  @ApiOkResponse({
    description: 'The image as uploaded (its type in content-type)',
    schema: { type: 'string', format: 'binary' },
  })
  @ApiNotFoundResponse({ description: 'No gallery item with this id' })
  async content(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { item, bytes } = await this.gallery.content(id);
    reply.header('content-type', item.mime);
    reply.header('cache-control', 'private, max-age=31536000, immutable');
    reply.header('etag', `"${item.contentSha256}"`);
    await reply.send(bytes);
  }

  @Delete(':id')
  @Roles('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove an item from the gallery, the index and the disk' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ description: 'No gallery item with this id' })
  async delete(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.gallery.delete(id);
  }
}
