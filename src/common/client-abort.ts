import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { ServerResponse } from 'http';
import type { FastifyReply } from 'fastify';

/**
 * Why a request's work was dropped: its client closed the connection before the answer. Answered (to
 * nobody) as 499, nginx's "client closed request": a client's doing, so not logged as a server error.
 */
export class ClientGoneError extends Error {
  readonly status = 499;

  constructor() {
    super('the client closed the connection');
    this.name = 'AbortError';
  }
}

/**
 * An AbortSignal that aborts when the response's connection closes before the response was sent
 * (the client gave up); a response that completes never aborts it.
 */
export function clientAbortSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.destroyed && !response.writableFinished) {
    controller.abort(new ClientGoneError());
    return controller.signal;
  }
  response.once('close', () => {
    if (!response.writableFinished) controller.abort(new ClientGoneError());
  });
  return controller.signal;
}

/** `@ClientAbort() signal: AbortSignal`: aborted when the client goes away before the answer. */
export const ClientAbort = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AbortSignal =>
    clientAbortSignal(context.switchToHttp().getResponse<FastifyReply>().raw),
);
