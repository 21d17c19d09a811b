export { ApiKeyAuth, CurrentApiKey, Public, Roles } from '../../common/auth.decorators';
export { API_KEY_HEADER, ApiKeyGuard } from './api-key.guard';
export { ROLES, roleAllows } from '../../common/roles';
export type { AuthenticatedKey, Role } from '../../common/roles';
