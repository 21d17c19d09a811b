import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';

/** The error body of every failed request. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  [extra: string]: unknown;
}

function reasonPhrase(status: number): string {
  const name = HttpStatus[status];
  if (!name) return 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(' ');
}

/** Turns any exception into { statusCode, error, message }. Unexpected errors are logged, never shown. */
export function toErrorBody(exception: unknown): ErrorBody {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'string') {
      return { statusCode: status, error: reasonPhrase(status), message: response };
    }
    const { message, error, statusCode: _ignored, ...extra } = response as Record<string, unknown>;
    // ValidationPipe gives a list of messages: keep the list, and join it for `message`.
    const list = Array.isArray(message) ? message.map(String) : undefined;
    return {
      ...extra,
      statusCode: status,
      error: typeof error === 'string' ? error : reasonPhrase(status),
      message: list ? list.join('; ') : typeof message === 'string' ? message : exception.message,
      ...(list ? { errors: list } : {}),
    };
  }
  // body-parser and other middleware errors carry an http status of their own.
  const status = (exception as { status?: unknown; expose?: unknown })?.status;
  if (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    (exception as { expose?: boolean }).expose !== false
  ) {
    return {
      statusCode: status,
      error: reasonPhrase(status),
      message: (exception as Error).message,
    };
  }
  return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = toErrorBody(exception);
    if (body.statusCode >= 500 && !(exception instanceof HttpException)) {
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    }
    if (response.headersSent) return;
    response.status(body.statusCode).json(body);
  }
}
