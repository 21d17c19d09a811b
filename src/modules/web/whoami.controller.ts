import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth, CurrentApiKey } from '../../common/auth.decorators';
import { ROLES, type AuthenticatedKey, type Role } from '../../common/roles';

export class WhoAmIDto implements AuthenticatedKey {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
}

/** Lets a client (the web console) learn what the key it holds may do. */
@ApiTags('auth')
@ApiKeyAuth()
@Controller('v1/auth')
export class WhoAmIController {
  @Get('me')
  @ApiOperation({ summary: "The calling key's id, name and role" })
  @ApiOkResponse({ type: WhoAmIDto })
  me(@CurrentApiKey() key: AuthenticatedKey): AuthenticatedKey {
    return { id: key.id, name: key.name, role: key.role };
  }
}
