/**
 * What one HTTP request costs on this machine before the service does any work: the same JSON body
 * (a 10-result search response) served by bare node:http; by Express, alone and with the middleware
 * the Express service had (helmet, pino-http, AsyncLocalStorage, body parsers); by fastify, alone
 * and with the equivalent plugins (helmet's headers set from one precomputed object, request id +
 * one pino line per request from two hooks, form body parser); and by a Nest app on each adapter configured as the service is (the
 * `nest-*` rows: global validation pipe and exception filter, nestjs-pino as the app logger). Each
 * server runs in its own process; autocannon on loopback (32 connections) after a warm-up; the
 * server's CPU time per request (user and system, from /proc) is the machine-load-independent
 * figure. Prints JSON.
 *
 *   node -r @swc-node/register bench/http-overhead.bench.ts [--duration 5] [--variants fastify,express]
 */
import { AsyncLocalStorage } from 'async_hooks';
import { ChildProcess, fork } from 'child_process';
import * as http from 'http';
import { cpus, loadavg } from 'os';
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyFormbody from '@fastify/formbody';
import express from 'express';
import fastify from 'fastify';
import helmet from 'helmet';
import { Logger as NestPinoLogger, LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import pinoHttp from 'pino-http';
import { AllExceptionsFilter, createValidationPipe } from '../src/common';
import { registerRequestLogging, requestId } from '../src/common/request-logging';
import { registerSecurityHeaders } from '../src/common/security-headers';
import { arg, numberArg, runMain } from './lib/args';
import { cpuSeconds, stopChild, stopOnSignals } from './lib/processes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: object) => Promise<{
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}>;

const VARIANTS = [
  'node-http',
  'express',
  'express+service-middleware',
  'fastify',
  'fastify+service-middleware',
  'nest-express+service-middleware',
  'nest-fastify+service-middleware',
] as const;
type Variant = (typeof VARIANTS)[number];

const BODY = {
  modelId: 'default',
  tookMs: 0.3,
  results: Array.from({ length: 10 }, (_, i) => ({
    id: `0b7a1e82-4329-4f8c-a514-f7ca6c5288a${i}`,
    label: '7',
    score: 0.9,
    distance: 0.1,
    metadata: {},
  })),
};

function listening(this: http.Server): void {
  process.send?.((this.address() as { port: number }).port);
}

@Controller('v1/search')
class SimilarController {
  @Get('similar/:id')
  similar(@Param('id') _id: string) {
    return BODY;
  }
}

async function serveNest(variant: Variant): Promise<void> {
  const level = 'warn';
  if (variant === 'nest-express+service-middleware') {
    // What src/main.ts configured on Express (up to commit 2e9b53f): pino-http through
    // nestjs-pino (its AsyncLocalStorage binding included), helmet, body parsers.
    @Module({
      imports: [LoggerModule.forRoot({ pinoHttp: { level, genReqId: () => 'x' } })],
      controllers: [SimilarController],
    })
    class ExpressModule {}
    const app = await NestFactory.create(ExpressModule, new ExpressAdapter(), {
      bodyParser: false,
      logger: false,
    });
    app.useLogger(app.get(NestPinoLogger));
    app.use(helmet());
    app.use(
      express.json({ limit: 1 << 20 }),
      express.urlencoded({ limit: 1 << 20, extended: false }),
    );
    app.useGlobalPipes(createValidationPipe());
    app.useGlobalFilters(new AllExceptionsFilter());
    await app.init();
    app.getHttpServer().listen(0, '127.0.0.1', listening);
    return;
  }
  // What src/main.ts configures on fastify (less the metrics hook and multipart, as above).
  const logger = pino({ level });
  @Module({
    imports: [LoggerModule.forRoot({ pinoHttp: { logger }, useExisting: true, forRoutes: [] })],
    controllers: [SimilarController],
  })
  class FastifyModule {}
  const adapter = new FastifyAdapter({
    bodyLimit: 1 << 20,
    genReqId: requestId,
    requestIdHeader: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(FastifyModule, adapter, {
    logger: false,
  });
  app.useLogger(app.get(NestPinoLogger));
  registerRequestLogging(app.getHttpAdapter().getInstance(), logger);
  registerSecurityHeaders(app.getHttpAdapter().getInstance(), {});
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  app.getHttpServer().listen(0, '127.0.0.1', listening);
}

async function serveFastify(variant: Variant): Promise<void> {
  const server = fastify({ genReqId: requestId, requestIdHeader: false });
  if (variant === 'fastify+service-middleware') {
    registerRequestLogging(server, pino({ level: 'warn' }));
    registerSecurityHeaders(server, {});
    await server.register(fastifyFormbody);
  }
  server.get('/v1/search/similar/:id', () => BODY);
  await server.ready();
  server.server.listen(0, '127.0.0.1', listening);
}

function serve(variant: Variant): void {
  if (variant.startsWith('nest-')) {
    void serveNest(variant);
    return;
  }
  if (variant.startsWith('fastify')) {
    void serveFastify(variant);
    return;
  }
  let handler: http.RequestListener;
  if (variant === 'node-http') {
    handler = (_req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(BODY));
    };
  } else {
    const app = express();
    if (variant === 'express+service-middleware') {
      app.use(helmet());
      app.use(pinoHttp({ level: 'warn' }));
      const storage = new AsyncLocalStorage<object>();
      app.use((_req, _res, next) => storage.run({}, next));
      app.use(express.json(), express.urlencoded({ extended: false }));
    }
    app.get('/v1/search/similar/:id', (_req, res) => {
      res.json(BODY);
    });
    handler = app;
  }
  http.createServer(handler).listen(0, '127.0.0.1', listening);
}

/** User and system CPU seconds of a process so far. */
/** The server processes started so far (one at a time), stopped on an interrupt too. */
const children: ChildProcess[] = [];

async function measure(variant: Variant, duration: number) {
  const child = fork(__filename, ['--serve', variant], { execArgv: ['-r', '@swc-node/register'] });
  children.push(child);
  const port = await new Promise<number>((resolve) => child.once('message', resolve));
  const url = `http://127.0.0.1:${port}/v1/search/similar/0b7a1e82-4329-4f8c-a514-f7ca6c5288a8`;
  try {
    await autocannon({ url, connections: 32, duration: 2 }); // warm-up (JIT)
    const before = cpuSeconds(child.pid!);
    const load = loadavg()[0];
    const result = await autocannon({ url, connections: 32, duration });
    const after = cpuSeconds(child.pid!);
    const perRequest = (seconds: number) => Math.round((seconds * 1e6) / result.requests.total);
    return {
      variant,
      requestsPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
      errors: result.errors + result.non2xx,
      serverCpuUsPerRequest: {
        user: perRequest(after.user - before.user),
        system: perRequest(after.system - before.system),
      },
      loadAverage1m: load,
    };
  } finally {
    await stopChild(child, { graceMs: 5000, name: `${variant} server` });
  }
}

async function main(): Promise<void> {
  const duration = numberArg('duration', 5);
  const variants = arg('variants', VARIANTS.join(',')).split(',') as Variant[];
  const unknown = variants.filter((variant) => !VARIANTS.includes(variant));
  if (unknown.length) throw new Error(`Unknown variants: ${unknown.join(', ')}`);
  const results = [];
  for (const variant of variants) results.push(await measure(variant, duration));
  console.log(
    JSON.stringify(
      {
        benchmark: 'http-overhead',
        date: new Date().toISOString(),
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        durationSeconds: duration,
        results,
      },
      null,
      2,
    ),
  );
}

const serving = arg('serve', '');
if (serving) serve(serving as Variant);
else {
  stopOnSignals(children, { graceMs: 5000, name: 'server' });
  runMain('http-overhead', main);
}
