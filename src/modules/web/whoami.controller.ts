import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyAuth, CurrentApiKey } from '../../common/auth.decorators';
import type { AuthenticatedKey } from '../../common/roles';

/** Lets a client (the web console) learn what the key it holds may do. */
@ApiTags('auth')
@ApiKeyAuth()
@Controller('v1/auth')
export class WhoAmIController {
  @Get('me')
  @ApiOperation({ summary: "The calling key's id, name and role" })
  @ApiOkResponse({ schema: { example: { id: 'uuid', name: 'ci', role: 'search' } } })
  me(@CurrentApiKey() key: AuthenticatedKey): AuthenticatedKey {
    return { id: key.id, name: key.name, role: key.role };
  }
}
