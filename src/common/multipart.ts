import {
  BadRequestException,
  CallHandler,
  createParamDecorator,
  ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  mixin,
  NestInterceptor,
  PayloadTooLargeException,
  Type,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config';

/** An uploaded file, read into memory (the fields multer's memory storage gave). */
export interface UploadedPart {
  fieldname: string;
  originalname: string;
  encoding: string;
  mimetype: string;
  size: number;
  buffer: Buffer;
}

export interface MultipartLimits {
  /** Bytes per file: over it, 413 "File too large". */
  fileSize: number;
  /** Files per request: over it, 400 "Too many files". */
  files: number;
}

/** multer's defaults and Nest's parts limit, kept so that what was accepted before still is. */
const FIELD_NAME_BYTES = 100;
const FIELD_VALUE_BYTES = 1024 * 1024;
const PARTS = 1000;

/** The multer/busboy messages (and statuses) the API answered with on Express. */
function toHttpException(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new PayloadTooLargeException('File too large');
    case 'FST_FILES_LIMIT':
      return new BadRequestException('Too many files');
    case 'FST_PARTS_LIMIT':
      return new BadRequestException('Too many parts');
    case 'FST_FIELDS_LIMIT':
      return new BadRequestException('Too many fields');
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
    case 'FST_MP_PREMATURE_CLOSE':
      return new BadRequestException(message);
  }
  switch (message) {
    case 'Multipart: Boundary not found':
      return new BadRequestException(message);
    case 'Malformed part header':
    case 'Unexpected end of form':
    case 'Unexpected end of file':
      return new BadRequestException(`Multipart: ${message}`);
    // @fastify/busboy's words for busboy's "Unexpected end of form".
    case 'Unexpected end of multipart data':
      return new BadRequestException('Multipart: Unexpected end of form');
  }
  return error;
}

/** Repeated fields become a list, as multer's append-field made them. */
function appendField(body: Record<string, unknown>, name: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const existing = body[name];
  if (existing === undefined) body[name] = text;
  else if (Array.isArray(existing)) existing.push(text);
  else body[name] = [existing, text];
}

/**
 * Reads a multipart body (fastify's @fastify/multipart) into memory: the files of `field`, and the
 * text fields as the request body. Anything that is not multipart is left to the other body parsers.
 */
export async function readMultipart(
  request: FastifyRequest,
  field: string,
  single: boolean,
  limits: MultipartLimits,
): Promise<{ files: UploadedPart[]; body: Record<string, unknown> }> {
  const files: UploadedPart[] = [];
  // No prototype: a field named like an Object.prototype member stays a plain field.
  const body = Object.create(null) as Record<string, unknown>;
  try {
    const parts = request.parts({
      limits: {
        fileSize: limits.fileSize,
        files: limits.files,
        parts: PARTS,
        fieldNameSize: FIELD_NAME_BYTES,
        fieldSize: FIELD_VALUE_BYTES,
      },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== field || (single && files.length === 1)) {
          part.file.resume();
          throw new BadRequestException(`Unexpected file field - ${part.fieldname}`);
        }
        const buffer = await part.toBuffer();
        files.push({
          fieldname: part.fieldname,
          originalname: part.filename,
          encoding: part.encoding,
          mimetype: part.mimetype,
          size: buffer.length,
          buffer,
        });
      } else {
        if (part.fieldnameTruncated) throw new BadRequestException('Field name too long');
        if (part.valueTruncated)
          throw new BadRequestException(`Field value too long - ${part.fieldname}`);
        appendField(body, part.fieldname, part.value);
      }
    }
  } catch (error) {
    // Whatever is left of the body is read and dropped, so the connection can answer.
    request.raw.resume();
    throw toHttpException(error);
  }
  return { files, body };
}

/** Where the interceptor leaves the files (fastify's request.file/files are @fastify/multipart's). */
const UPLOADS = Symbol('uploads');
type WithUploads = FastifyRequest & { [UPLOADS]?: UploadedPart[] };

/** The files of the route's upload interceptor (none when the body was not multipart). */
export const UploadedParts = createParamDecorator(
  (_data: unknown, context: ExecutionContext): UploadedPart[] =>
    context.switchToHttp().getRequest<WithUploads>()[UPLOADS] ?? [],
);

/** The one file of a FileUpload route, or undefined. */
export const UploadedPartOne = createParamDecorator(
  (_data: unknown, context: ExecutionContext): UploadedPart | undefined =>
    context.switchToHttp().getRequest<WithUploads>()[UPLOADS]?.[0],
);

/**
 * The multipart upload interceptor of a route (what FileInterceptor / FilesInterceptor were on
 * Express): `@UploadedPartOne()` or `@UploadedParts()` get the files, `@Body()` the fields.
 */
export function MultipartInterceptor(
  field: string,
  options: { single: boolean; maxFiles: (config: AppConfig) => number },
): Type<NestInterceptor> {
  @Injectable()
  class Interceptor implements NestInterceptor {
    private readonly limits: MultipartLimits;

    constructor(@Inject(APP_CONFIG) config: AppConfig) {
      this.limits = { fileSize: config.uploads.maxFileBytes, files: options.maxFiles(config) };
    }

    async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
      const request = context.switchToHttp().getRequest<WithUploads>();
      if (request.isMultipart()) {
        const { files, body } = await readMultipart(request, field, options.single, this.limits);
        request[UPLOADS] = files;
        request.body = body;
      }
      return next.handle();
    }
  }
  return mixin(Interceptor);
}

/** One file in `field` (FileInterceptor('file') with `files: 1` before). */
export const FileUpload = (field: string): Type<NestInterceptor> =>
  MultipartInterceptor(field, { single: true, maxFiles: () => 1 });

/** Files in `field`, at most UPLOAD_MAX_FILES (FilesInterceptor(field) before). */
export const FilesUpload = (field: string): Type<NestInterceptor> =>
  MultipartInterceptor(field, { single: false, maxFiles: (config) => config.uploads.maxFiles });
