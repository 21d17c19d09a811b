export const ROLES = ['search', 'security', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What an authenticated request carries: `@CurrentApiKey() key: AuthenticatedKey`. */
export interface AuthenticatedKey {
  id: string;
  name: string;
  role: Role;
}

/** Admin may do everything; other roles only what a route names. */
export function roleAllows(role: Role, required: readonly Role[]): boolean {
  return required.length === 0 || role === 'admin' || required.includes(role);
}
