import 'reflect-metadata';
import type { AddressInfo } from 'net';
import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AllExceptionsFilter, bodyParsers, createValidationPipe } from './common';
import { setupOpenApi } from './common/openapi';
import { AppConfig, loadConfig } from './config';
import { initBackend } from './ml/backend';
import { MetricsService } from './modules/metrics/metrics.service';
import { metricsMiddleware } from './modules/metrics/metrics.middleware';

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
  app: NestExpressApplication;
  config: AppConfig;
}

/**
 * Builds and configures the app without listening: the CLI and the e2e tests share it, so
 * what the tests check is what runs. Throws ConfigValidationError naming a bad variable.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<CreatedApp> {
  // Only overrides that are set replace the environment (`rir serve` without --port keeps PORT).
  const overrides = Object.entries(options.env ?? {}).filter(([, value]) => value !== undefined);
  const config = loadConfig({ ...process.env, ...Object.fromEntries(overrides) });
  // A forced TFJS_BACKEND that cannot start stops start-up, loudly.
  if (!options.skipTfjs) await initBackend(config.tfjsBackend);

  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    bodyParser: false,
    bufferLogs: true,
    // Until pino takes over (and if start-up fails before), Nest's own logger at LOG_LEVEL.
    logger: nestLogLevels(config.logLevel),
    abortOnError: false,
  });
  try {
    await configure(app, config);
  } catch (error) {
    // Release what did start (the database and its lock) before reporting the failure.
    await app.close().catch(() => undefined);
    throw error;
  }
  return { app, config };
}

async function configure(app: NestExpressApplication, config: AppConfig): Promise<void> {
  app.useLogger(app.get(Logger));
  app.use(metricsMiddleware(app.get(MetricsService)));
  app.use(
    helmet({
      // The service is often reached over plain HTTP on a private address; upgrading its
      // own asset requests to https there would break /docs and the web console.
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    }),
  );
  app.use(...bodyParsers(config.http.bodyLimitBytes));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  setupOpenApi(app);
  await app.init();
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
  app
    .get(Logger)
    .log(`rir listening on ${url} (database: ${where}; docs: ${url}/docs)`, 'Bootstrap');
  return app;
}
