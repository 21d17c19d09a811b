import {
  ArgumentMetadata,
  CanActivate,
  ExceptionFilter,
  ForbiddenException,
  PipeTransform,
  RequestMethod,
  Type,
} from '@nestjs/common';
import {
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  PIPES_METADATA,
  EXCEPTION_FILTERS_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyInstance } from 'fastify';
import { SearchController } from './search.controller';

/** What Nest itself would apply to the route: the app's global guards, pipe and filter. */
export interface DirectRouteParts {
  /** The app's global guards (the same instances Nest runs), in their order. */
  guards: readonly CanActivate[];
  /** The app's global pipe. */
  pipe: PipeTransform;
  /** The app's global exception filter. */
  filter: ExceptionFilter;
  controller: SearchController;
}

export const SEARCH_BY_ID_PATH = '/v1/search/similar/:id';

/** Fastify instances whose search-by-id route was taken over (servesSearchByIdDirectly). */
const takenOver = new WeakSet<FastifyInstance>();

/** Whether this app serves search by id directly (tests; RIR_DIRECT_ROUTES=0 turns it off). */
export function servesSearchByIdDirectly(fastify: FastifyInstance): boolean {
  return takenOver.has(fastify);
}

/** Nest's answer when a guard returns false (@nestjs/core's FORBIDDEN_MESSAGE). */
const FORBIDDEN_MESSAGE = 'Forbidden resource';

/**
 * Serves GET /v1/search/similar/:id, the hot route, with the steps Nest's router would take for
 * it, written out: the global guards (same instances, same order), the global validation pipe and
 * ParseUUIDPipe on the id, the validation pipe on the query, the controller method, and the global
 * exception filter for any error. What it leaves out is Nest's generic per-request machinery
 * (argument factories, interceptor and observable plumbing, several promise hops per step): about a
 * fifth of the server's CPU per search (docs/benchmarks-archive.md, "Less CPU per search by id").
 *
 * It takes over the route that Nest registers (fastify's onRoute hook), so the route, its OpenAPI
 * entry and its place in the app stay the controller's. It refuses to start when the controller
 * method carries enhancers of its own that this function does not apply; the e2e test
 * test/search/search-by-id-route.e2e-spec.ts checks that the app's global enhancers are exactly the
 * ones passed here and that answers match Nest's own route.
 */
export function serveSearchByIdDirectly(fastify: FastifyInstance, parts: DirectRouteParts): void {
  const { guards, pipe, filter, controller } = parts;
  const handler = SearchController.prototype.byId;
  assertNoRouteEnhancers(SearchController, handler);
  const { idMeta, idPipe, queryMeta } = byIdArguments();

  fastify.addHook('onRoute', (route) => {
    if (route.url !== SEARCH_BY_ID_PATH || route.method !== RequestMethod[RequestMethod.GET]) {
      return;
    }
    const viaNest = route.handler;
    takenOver.add(fastify);
    route.handler = async function searchByIdDirect(this: FastifyInstance, request, reply) {
      const raw = (request.params as { id: string }).id;
      // Nest's adapter turns an empty route parameter into a 404 (requireNonEmptyParams).
      if (raw === '') return viaNest.call(this, request, reply);
      const context = new ExecutionContextHost(
        [request, reply, undefined],
        SearchController,
        handler,
      );
      context.setType('http');
      try {
        for (const guard of guards) {
          if (!(await guard.canActivate(context))) throw new ForbiddenException(FORBIDDEN_MESSAGE);
        }
        const id = (await idPipe.transform(await pipe.transform(raw, idMeta), idMeta)) as string;
        const query = await pipe.transform(request.query, queryMeta);
        return reply.code(200).send(controller.byId(id, query));
      } catch (error) {
        filter.catch(error, context);
        return reply;
      }
    };
  });
}

/**
 * byId(@Param('id', <one pipe instance>) id, @Query() query), read from the controller's own
 * metadata (so the pipe is the controller's); any other signature stops start-up here.
 */
function byIdArguments(): {
  idMeta: ArgumentMetadata;
  idPipe: PipeTransform;
  queryMeta: ArgumentMetadata;
} {
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, SearchController, 'byId') as Record<
    string,
    { index: number; data: unknown; pipes: unknown[] }
  >;
  const types = Reflect.getMetadata('design:paramtypes', SearchController.prototype, 'byId') as
    Type[] | undefined;
  const id = args[`${RouteParamtypes.PARAM}:0`];
  const query = args[`${RouteParamtypes.QUERY}:1`];
  const idPipe = id?.pipes[0];
  if (
    Object.keys(args).length !== 2 ||
    types?.length !== 2 ||
    id?.data !== 'id' ||
    id.pipes.length !== 1 ||
    typeof (idPipe as PipeTransform | undefined)?.transform !== 'function' ||
    query?.data !== undefined ||
    query.pipes.length !== 0
  ) {
    throw new Error(
      'serveSearchByIdDirectly: SearchController.byId is no longer byId(@Param(id, pipe) id, @Query() query); update the direct route',
    );
  }
  return {
    idMeta: { type: 'param', metatype: types[0], data: 'id' },
    idPipe: idPipe as PipeTransform,
    queryMeta: { type: 'query', metatype: types[1], data: undefined },
  };
}

/** Guards, interceptors, pipes or filters declared on the controller or the method itself. */
function assertNoRouteEnhancers(controller: Type, handler: object): void {
  for (const key of [
    GUARDS_METADATA,
    INTERCEPTORS_METADATA,
    PIPES_METADATA,
    EXCEPTION_FILTERS_METADATA,
  ]) {
    const declared = [
      ...((Reflect.getMetadata(key, controller) as unknown[] | undefined) ?? []),
      ...((Reflect.getMetadata(key, handler) as unknown[] | undefined) ?? []),
    ];
    if (declared.length > 0) {
      throw new Error(
        `serveSearchByIdDirectly: ${controller.name}.byId declares ${key}, which the direct route does not apply`,
      );
    }
  }
}
