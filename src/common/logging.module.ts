import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino, { Logger } from 'pino';
import { APP_CONFIG, AppConfig } from '../config';

/** The process's pino logger: the app's logs and the request lines (`registerRequestLogging`). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

@Global()
@Module({
  providers: [
    {
      provide: ROOT_LOGGER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): Logger => pino({ level: config.logLevel }),
    },
  ],
  exports: [ROOT_LOGGER],
})
class RootLoggerModule {}

/**
 * Structured JSON logs (pino): nestjs-pino makes it Nest's logger; one line per request with its
 * id comes from two fastify hooks (`registerRequestLogging` in createApp), not from pino-http
 * middleware, so nestjs-pino runs no middleware (`forRoutes: []`).
 */
@Module({
  imports: [
    RootLoggerModule,
    LoggerModule.forRootAsync({
      imports: [RootLoggerModule],
      inject: [ROOT_LOGGER],
      useFactory: (logger: Logger) => ({ pinoHttp: { logger }, useExisting: true, forRoutes: [] }),
    }),
  ],
})
export class LoggingModule {}
