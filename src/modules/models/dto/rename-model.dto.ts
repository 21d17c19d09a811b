import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { MODEL_NAME_PATTERN, modelNameMessage } from '../model-name';

/** PATCH /v1/models/:id */
export class RenameModelDto {
  @ApiProperty({
    description: "The model's new name (unique among models)",
    pattern: MODEL_NAME_PATTERN.source,
    example: 'mnist-panum-v2',
  })
  @Matches(MODEL_NAME_PATTERN, { message: modelNameMessage })
  name!: string;
}
