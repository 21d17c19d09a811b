import { ApiProperty } from '@nestjs/swagger';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

/** Per check, by name: `status` ('up' or 'down') and what the check reports besides. */
type Checks = Record<string, Record<string, unknown>>;

export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'] }) status!:
    'ok' | 'error' | 'shutting_down';
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: true },
    description: "The checks that are up, by name: { status: 'up', ...details }",
  })
  info?: Checks;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: true },
    description: "The checks that are down, by name: { status: 'down', ...details }",
  })
  error?: Checks;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: true },
    description: 'Every check, by name (database, migrations, tfjs, index, ...)',
  })
  details!: Checks;
}
