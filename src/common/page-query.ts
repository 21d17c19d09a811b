import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import type { Type as ClassType } from '@nestjs/common';
import { MAX_LIST_LIMIT, MAX_PAGE, type Page } from './paging';

/**
 * `page` and `limit` of every list route, as a base class for its query; `maxLimit` and `defaultLimit`
 * are the route's own.
 */
export function PageQuery(maxLimit = MAX_LIST_LIMIT, defaultLimit = 100) {
  class PageQueryBase {
    @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: 1 })
    @IsOptional()
    @Type(() => Number)
    @IsInt()
    @Min(1)
    @Max(MAX_PAGE)
    page?: number;

    @ApiPropertyOptional({ minimum: 1, maximum: maxLimit, default: defaultLimit })
    @IsOptional()
    @Type(() => Number)
    @IsInt()
    @Min(1)
    @Max(maxLimit)
    limit?: number;
  }
  return PageQueryBase;
}

/** The query of a list route with no filter: `page`, and `limit` up to MAX_LIST_LIMIT (100 by default). */
export class PageQueryDto extends PageQuery() {}

/** The OpenAPI class of a list route's answer: `{ items, total, page, limit }` with typed items. */
export function PageOf<T>(item: ClassType<T>, name: string): ClassType<Page<T>> {
  class PageDto implements Page<T> {
    @ApiProperty({ type: [item] }) items!: T[];
    @ApiProperty({ description: 'Items matching the filter, on all pages' }) total!: number;
    @ApiProperty({ description: 'This page (from 1)' }) page!: number;
    @ApiProperty({ description: 'Items per page' }) limit!: number;
  }
  Object.defineProperty(PageDto, 'name', { value: name });
  return PageDto;
}
