import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { PageOf, PageQuery } from '../../../common/page-query';

/** Multipart fields of POST /v1/gallery/images (the images come in `files`). */
export class UploadImagesDto {
  @ApiPropertyOptional({ description: 'Label given to every uploaded image' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  label?: string;

  @ApiPropertyOptional({ description: 'A JSON object stored with every uploaded image' })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  metadata?: string;
}

/** GET /v1/gallery/images: oldest first, a page at a time (at most 500 items a page). */
export class ListImagesQueryDto extends PageQuery(500, 50) {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}

export class GalleryItemDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, nullable: true }) label!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'As uploaded' })
  metadata!: Record<string, unknown>;
  @ApiProperty({ description: 'SHA-256 of the stored bytes (hex)' }) contentSha256!: string;
  @ApiProperty({ example: 'image/png' }) mime!: string;
  @ApiProperty() width!: number;
  @ApiProperty() height!: number;
  @ApiProperty({ description: 'Size of the stored file' }) bytes!: number;
  @ApiProperty({ description: 'ISO 8601' }) createdAt!: string;
}

export class IngestedItemDto extends GalleryItemDto {
  @ApiProperty({
    description:
      'true when an image with the same content was already there (that item is returned)',
  })
  duplicate!: boolean;
}

export class UploadedImagesDto {
  @ApiProperty({ type: [IngestedItemDto], description: 'One per uploaded file, in order' })
  items!: IngestedItemDto[];
}

export const GalleryPageDto = PageOf(GalleryItemDto, 'GalleryPageDto');
