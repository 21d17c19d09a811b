export { ApiKeyAuth, CurrentApiKey, Public, Roles } from './auth.decorators';
export { API_KEY_HEADER, ApiKeyGuard } from './api-key.guard';
export { ROLES, roleAllows } from './roles';
export type { AuthenticatedKey, Role } from './roles';
