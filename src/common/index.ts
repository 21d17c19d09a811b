export { AllExceptionsFilter, toErrorBody } from './all-exceptions.filter';
export type { ErrorBody } from './all-exceptions.filter';
export { registerBodyParsers } from './body-parsers';
export { FileUpload, FilesUpload, UploadedPartOne, UploadedParts } from './multipart';
export type { UploadedPart } from './multipart';
export { createValidationPipe } from './validation';
// Auth decorators live with the guard; re-exported here so features import one place.
export { ApiKeyAuth, CurrentApiKey, Public, Roles } from '../modules/auth/auth.decorators';
export type { AuthenticatedKey, Role } from '../modules/auth/roles';
export { DEFAULT_SLICE_MS, EventLoopPacer } from './event-loop-pacer';
