import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
  // Body parser and other framework errors carry an http status of their own (`status` from
  // body-parser style middleware, `statusCode` from fastify and its plugins).
  const given = exception as { status?: unknown; statusCode?: unknown; expose?: unknown } | null;
  const status = given?.status ?? given?.statusCode;
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
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const body = toErrorBody(exception);
    if (body.statusCode >= 500 && !(exception instanceof HttpException)) {
      const id = http.getRequest<FastifyRequest | undefined>()?.id;
      const detail = exception instanceof Error ? exception.stack : String(exception);
      this.logger.error(id ? `request ${id}: ${detail}` : detail);
    }
    if (reply.sent) return;
    reply.status(body.statusCode).send(body);
  }
}
