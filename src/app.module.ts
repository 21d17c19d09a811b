import { DynamicModule, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggingModule } from './common/logging.module';
import { AppConfig, APP_CONFIG, ConfigModule } from './config';
import { DatabaseModule } from './database';
import { ApiKeysModule } from './modules/api-keys/api-keys.module';
import { AuthModule } from './modules/auth/auth.module';
import { SlidingWindowThrottlerStorage } from './modules/auth/sliding-window-throttler.storage';
import { tooManyRequestsMessage } from './modules/auth/throttler.guard';
import { HealthModule } from './modules/health/health.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { GalleryModule } from './modules/gallery/gallery.module';
import { ModelsModule } from './modules/models/models.module';
import { ProbesModule } from './modules/probes/probes.module';
import { SearchModule } from './modules/search/search.module';
import { TrainingModule } from './modules/training/training.module';
import { WebModule } from './modules/web/web.module';

/** Feature modules: add one line per module (see docs/ARCHITECTURE.md). */
const FEATURE_MODULES: DynamicModule['imports'] = [
  SearchModule,
  GalleryModule,
  ModelsModule,
  WebModule,
  ProbesModule,
  TrainingModule,
];

@Module({})
export class AppModule {
  /** The whole app for one validated configuration (tests build several in one process). */
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        LoggingModule,
        DatabaseModule,
        ThrottlerModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => ({
            // Counted per route and client IP (docs/ARCHITECTURE.md, "Protecting routes").
            throttlers: [{ name: 'default', ttl: c.rateLimit.ttlMs, limit: c.rateLimit.limit }],
            errorMessage: tooManyRequestsMessage,
            // The stock storage copies every hit of the window on each request (O(rate x ttl)).
            storage: new SlidingWindowThrottlerStorage(),
          }),
        }),
        MetricsModule,
        HealthModule,
        ApiKeysModule,
        AuthModule,
        ...(FEATURE_MODULES ?? []),
      ],
    };
  }
}
