import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export const MAX_K = 1000;
export const MAX_EF = 10_000;

/** Options shared by search by upload (multipart fields) and search by id (query string). */
export class SimilarQueryDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_K,
    default: 10,
    description: 'Number of results',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_K)
  k?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_EF,
    description: 'HNSW search breadth; at least k',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_EF)
  ef?: number;

  @ApiPropertyOptional({
    minimum: -1,
    maximum: 1,
    description: 'Drop results with a lower cosine similarity',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(-1)
  @Max(1)
  minScore?: number;

  @ApiPropertyOptional({ description: 'Only return items with this label' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}

/** Multipart body of POST /v1/search: the image comes in the `file` field. */
export class SearchUploadDto extends SimilarQueryDto {}
