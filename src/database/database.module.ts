import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../config';
import { dataSourceOptions, lockFor, openDataSource } from './data-source';

/**
 * TypeORM for the whole app. Feature modules register their entities with
 * TypeOrmModule.forFeature([...]) (autoLoadEntities) and their schema with a migration file in
 * migrations/; pending migrations run at start-up.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config),
        autoLoadEntities: true,
        migrationsRun: true,
        // Fail fast: a database that is down at start-up is reported, not retried for minutes.
        retryAttempts: 0,
        // Read back by dataSourceFactory below (TypeORM ignores unknown options).
        rirLock: lockFor(config, 'server'),
      }),
      dataSourceFactory: async (options) => {
        const { rirLock, ...typeorm } = options as typeof options & {
          rirLock: ReturnType<typeof lockFor>;
        };
        return openDataSource(typeorm as NonNullable<typeof options>, rirLock);
      },
    }),
  ],
})
export class DatabaseModule {}
