import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { IS_PUBLIC, REQUIRED_ROLES } from '../../common/auth.decorators';
import { AuthenticatedKey, Role, roleAllows } from '../../common/roles';
import { RouteMemo } from './route-memo';

export const API_KEY_HEADER = 'x-api-key';

/** What a route asks of the caller's key, from its decorators. */
interface RoutePolicy {
  isPublic: boolean;
  roles: Role[];
}

/** Global guard: every route needs a valid x-api-key unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** @Public() and @Roles() of each route (the handler's, else its controller's). */
  private readonly policies = new RouteMemo<RoutePolicy>((handler, classRef) => ({
    isPublic: Boolean(this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, classRef])),
    roles: this.reflector.getAllAndOverride<Role[]>(REQUIRED_ROLES, [handler, classRef]) ?? [],
  }));

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.policies.get(context);
    if (policy.isPublic) return true;
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
    const required = policy.roles;
    if (!roleAllows(identity.role, required)) {
      throw new ForbiddenException(
        `This route needs a key with role ${required.join(' or ')}; this key has role ${identity.role}`,
      );
    }
    request.apiKey = identity;
    return true;
  }
}
