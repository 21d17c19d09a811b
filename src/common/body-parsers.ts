import type { NextFunction, Request, Response } from 'express';
import * as express from 'express';
import { toErrorBody } from './all-exceptions.filter';

/**
 * JSON and form body parsers with the configured limit, plus an error handler placed right
 * after them: body-parser errors happen before Nest's exception filters see the request.
 */
export function bodyParsers(limitBytes: number) {
  const describe = (error: { type?: string; message: string }): string => {
    if (error.type === 'entity.too.large')
      return `Request body is larger than the limit of ${limitBytes} bytes`;
    if (error.type === 'entity.parse.failed')
      return `Malformed JSON in request body: ${error.message}`;
    return error.message;
  };
  return [
    express.json({ limit: limitBytes }),
    express.urlencoded({ limit: limitBytes, extended: false }),
    (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (!error) return next();
      const body = toErrorBody(error);
      if (body.statusCode < 500)
        body.message = describe(error as { type?: string; message: string });
      res.status(body.statusCode).json(body);
    },
  ];
}
