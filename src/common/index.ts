export { AllExceptionsFilter, toErrorBody } from './all-exceptions.filter';
export type { ErrorBody } from './all-exceptions.filter';
export { registerBodyParsers } from './body-parsers';
export { FileUpload, FilesUpload, UploadedPartOne, UploadedParts } from './multipart';
export type { UploadedPart } from './multipart';
export { createValidationPipe } from './validation';
// The route decorators and roles that ApiKeyGuard (src/modules/auth) enforces.
export { ApiKeyAuth, CurrentApiKey, Public, Roles } from './auth.decorators';
export { ROLES, roleAllows } from './roles';
export type { AuthenticatedKey, Role } from './roles';
export { DEFAULT_SLICE_MS, EventLoopPacer } from './event-loop-pacer';
