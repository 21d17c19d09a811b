import type { FastifyInstance } from 'fastify';
import type { MetricsService } from './metrics.service';

/**
 * Times every request (an onResponse hook). The route label is the matched pattern
 * (/v1/api-keys/:id), never the raw path, so ids do not explode the label set; unmatched requests
 * share one label.
 */
export function registerMetricsHook(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const pattern = request.is404 ? undefined : request.routeOptions.url;
    metrics.observe(
      pattern ?? 'unmatched',
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}
