import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import { ApiExtension, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { AuthenticatedKey, Role } from './roles';

export const IS_PUBLIC = 'rir:isPublic';
export const REQUIRED_ROLES = 'rir:roles';
/** OpenAPI marker read by the docs set-up to drop the key requirement from public routes. */
export const PUBLIC_EXTENSION = 'x-rir-public';

/** The route needs no API key (health, metrics, docs, the web console). */
export const Public = () =>
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true));

/**
 * The route (or every route of a controller) needs a key with one of these roles; admin keys
 * pass every check. Without @Roles a route needs a key of any role.
 */
export const Roles = (...roles: Role[]) =>
  applyDecorators(
    SetMetadata(REQUIRED_ROLES, roles),
    ApiForbiddenResponse({
      description: `Needs role: ${[...new Set([...roles, 'admin'])].join(' or ')}`,
    }),
  );

/** Documents the 401 every protected route can return (applied to controllers). */
export const ApiKeyAuth = () =>
  ApiUnauthorizedResponse({ description: 'Missing or unknown x-api-key' });

/** The authenticated key of the request (set by ApiKeyGuard). */
export const CurrentApiKey = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedKey | undefined =>
    context.switchToHttp().getRequest<{ apiKey?: AuthenticatedKey }>().apiKey,
);
