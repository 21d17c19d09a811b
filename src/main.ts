import 'reflect-metadata';
import type { AddressInfo } from 'net';
import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyMultipart from '@fastify/multipart';
import { Logger } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { AppModule } from './app.module';
import { AllExceptionsFilter, createValidationPipe, registerBodyParsers } from './common';
import { ROOT_LOGGER } from './common/logging.module';
import { setupOpenApi } from './common/openapi';
import { registerRequestLogging, requestId } from './common/request-logging';
import { registerSecurityHeaders } from './common/security-headers';
import { localUrl, removeServerAddress, writeServerAddress } from './common/server-address';
import { AppConfig, loadConfig } from './config';
import { initBackend } from './ml/backend';
import { GLOBAL_GUARDS } from './modules/auth/auth.module';
import { MetricsService } from './modules/metrics/metrics.service';
import { serveSearchByIdDirectly } from './modules/search/search-by-id.route';
import { SearchController } from './modules/search/search.controller';
import { registerMetricsHook } from './modules/metrics/metrics.hook';

const NEST_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const PINO_TO_NEST: Record<AppConfig['logLevel'], number> = {
  silent: 0,
  fatal: 1,
  error: 2,
  warn: 3,
  info: 4,
  debug: 5,
  trace: 6,
};

function nestLogLevels(level: AppConfig['logLevel']): LogLevel[] | false {
  const count = PINO_TO_NEST[level];
  return count === 0 ? false : NEST_LEVELS.slice(0, count);
}

export interface CreateAppOptions {
  /** Variables that override process.env (tests, `rir serve --port`). */
  env?: Record<string, string | undefined>;
  /** Skip starting the tfjs backend (it is started lazily by /health/ready then). */
  skipTfjs?: boolean;
}

export interface CreatedApp {
  app: NestFastifyApplication;
  config: AppConfig;
}

/**
 * Builds and configures the app without listening: the CLI and the e2e tests share it, so
 * what the tests check is what runs. Throws ConfigValidationError naming a bad variable.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<CreatedApp> {
  // Only overrides that are set replace the environment (`rir serve` without --port keeps PORT).
  const overrides = Object.entries(options.env ?? {}).filter(([, value]) => value !== undefined);
  const env = { ...process.env, ...Object.fromEntries(overrides) };
  const config = loadConfig(env);
  // A forced TFJS_BACKEND that cannot start stops start-up, loudly.
  if (!options.skipTfjs) await initBackend(config.tfjsBackend);

  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // Routes match as they did on Express: /health/live/ and /Health/Live are /health/live.
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
    // A caller's sane x-request-id, or a new one; never fastify's counter.
    genReqId: requestId,
    requestIdHeader: false,
    // Request lines come from registerRequestLogging (cheaper than fastify's two per request).
    logger: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(config),
    adapter,
    {
      // registerBodyParsers replaces the adapter's JSON and form parsers (same limit, Express's errors).
      bodyParser: false,
      bufferLogs: true,
      // Until pino takes over (and if start-up fails before), Nest's own logger at LOG_LEVEL.
      logger: nestLogLevels(config.logLevel),
      abortOnError: false,
    },
  );
  try {
    await configure(app, config, { directRoutes: env[DIRECT_ROUTES_VARIABLE] !== '0' });
  } catch (error) {
    // Release what did start (the database and its lock) before reporting the failure.
    await app.close().catch(() => undefined);
    throw error;
  }
  return { app, config };
}

/**
 * RIR_DIRECT_ROUTES=0 serves the hot route (search by id) through Nest's router like every other
 * route instead of directly (src/modules/search/search-by-id.route.ts): the tests compare the two,
 * and it is the way back should the two ever differ.
 */
export const DIRECT_ROUTES_VARIABLE = 'RIR_DIRECT_ROUTES';

async function configure(
  app: NestFastifyApplication,
  config: AppConfig,
  options: { directRoutes: boolean },
): Promise<void> {
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  registerRequestLogging(fastify, app.get<PinoLogger>(ROOT_LOGGER));
  registerMetricsHook(fastify, app.get(MetricsService));
  registerSecurityHeaders(fastify, {
    // The service is often reached over plain HTTP on a private address; upgrading its
    // own asset requests to https there would break /docs and the web console.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  // Limits are set per route by the upload interceptors (src/common/multipart.ts).
  await app.register(fastifyMultipart);
  registerBodyParsers(fastify, config.http.bodyLimitBytes);
  const pipe = createValidationPipe();
  const filter = new AllExceptionsFilter();
  app.useGlobalPipes(pipe);
  app.useGlobalFilters(filter);
  if (options.directRoutes) {
    // Before app.init(), which registers the routes: the hot route is then served directly.
    serveSearchByIdDirectly(fastify, {
      guards: GLOBAL_GUARDS.map((guard) => app.get(guard)),
      pipe,
      filter,
      controller: app.get(SearchController),
    });
  }
  setupOpenApi(app);
  // bootstrap() records where an embedded-database server listens (for `rir keys create`).
  if (config.database.kind === 'pglite')
    fastify.addHook('onClose', async () => removeServerAddress(config.dataDir));
  await app.init();
  await fastify.ready();
}

/** `rir serve`: create, listen, and shut down cleanly on SIGINT/SIGTERM. */
export async function bootstrap(options: CreateAppOptions = {}): Promise<INestApplication> {
  const { app, config } = await createApp(options);
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const where =
    config.database.kind === 'postgres'
      ? 'PostgreSQL'
      : `embedded PGlite in ${config.database.dir}`;
  // PORT=0 picks a free port: report the one the server really got.
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  // Only this process can open the embedded database: commands reach it through this server.
  if (config.database.kind === 'pglite')
    writeServerAddress(config.dataDir, { pid: process.pid, url: localUrl(config.host, port) });
  app
    .get(Logger)
    .log(`rir listening on ${url} (database: ${where}; docs: ${url}/docs)`, 'Bootstrap');
  return app;
}
