import { ApiProperty } from '@nestjs/swagger';
import { PageOf } from '../../../common/page-query';
import { IsIn, IsString, Length, Matches } from 'class-validator';
import { ROLES, Role } from '../../../common/roles';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'search-frontend', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;
}

export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ description: 'The secret key; shown only in this response.' }) key!: string;
}

export class ApiKeySummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ description: 'First characters of the key, for recognising it.' })
  keyPrefix!: string;
  @ApiProperty({ description: 'ISO 8601' }) createdAt!: Date;
}

export const ApiKeyPageDto = PageOf(ApiKeySummaryDto, 'ApiKeyPageDto');
