import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { registerFastValidator } from '../../../common/validation';

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

/** A positive integer written plainly ("10", not "010", "1e1" or " 10"), up to `max`; else undefined. */
function plainPositiveInt(raw: string, max: number): number | undefined {
  if (!/^[1-9]\d{0,5}$/.test(raw)) return undefined;
  const value = Number(raw);
  return value <= max ? value : undefined;
}

/**
 * The fast path of the validation pipe for these options (see registerFastValidator): plain values
 * only; anything else (repeated or unknown fields, odd spellings, out of range) goes through
 * class-validator, which gives the errors.
 */
function fastSimilarQuery<T extends SimilarQueryDto>(dto: new () => T) {
  return (value: unknown): T | undefined => {
    if (typeof value !== 'object' || value === null) return undefined;
    const out = new dto();
    const fields = value as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const raw = fields[key];
      if (typeof raw !== 'string') return undefined;
      if (key === 'k' || key === 'ef') {
        const n = plainPositiveInt(raw, key === 'k' ? MAX_K : MAX_EF);
        if (n === undefined) return undefined;
        out[key] = n;
      } else if (key === 'minScore') {
        if (!/^-?[01](\.\d{1,8})?$/.test(raw)) return undefined;
        const score = Number(raw);
        if (score < -1 || score > 1) return undefined;
        out.minScore = score;
      } else if (key === 'label') {
        if (raw.length > 200) return undefined;
        out.label = raw;
      } else {
        return undefined;
      }
    }
    return out;
  };
}

registerFastValidator(SimilarQueryDto, fastSimilarQuery(SimilarQueryDto));
registerFastValidator(SearchUploadDto, fastSimilarQuery(SearchUploadDto));

export class SearchHitDto {
  @ApiProperty({ format: 'uuid', description: 'The gallery item' }) id!: string;
  @ApiProperty({ type: String, nullable: true }) label!: string | null;
  @ApiProperty({ description: 'Cosine similarity to the query, in [-1, 1] (higher is closer)' })
  score!: number;
  @ApiProperty({ description: 'Distance to the query in the index (lower is closer)' })
  distance!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
}

export class SearchResponseDto {
  @ApiProperty({ description: 'The serving model that embedded the query' }) modelId!: string;
  @ApiProperty({ description: 'Time spent answering, in milliseconds' }) tookMs!: number;
  @ApiProperty({ type: [SearchHitDto], description: 'Most similar first' })
  results!: SearchHitDto[];
}
