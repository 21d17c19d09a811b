import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { IS_PUBLIC, REQUIRED_ROLES } from './auth.decorators';
import { AuthenticatedKey, Role, roleAllows } from './roles';

export const API_KEY_HEADER = 'x-api-key';

/** Global guard: every route needs a valid x-api-key unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const request = context.switchToHttp().getRequest<{
      headers: Record<string, string | string[] | undefined>;
      apiKey?: AuthenticatedKey;
    }>();
    const header = request.headers[API_KEY_HEADER];
    const key = Array.isArray(header) ? header[0] : header;
    if (!key)
      throw new UnauthorizedException(`Missing API key: send it in the ${API_KEY_HEADER} header`);
    const identity = await this.apiKeys.authenticate(key);
    if (!identity) throw new UnauthorizedException('Invalid API key');

    const required = this.reflector.getAllAndOverride<Role[]>(REQUIRED_ROLES, targets) ?? [];
    if (!roleAllows(identity.role, required)) {
      throw new ForbiddenException(
        `This route needs a key with role ${required.join(' or ')}; this key has role ${identity.role}`,
      );
    }
    request.apiKey = identity;
    return true;
  }
}
