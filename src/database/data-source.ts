import * as path from 'path';
import { DataSource, DataSourceOptions, EntitySchema, MixedList } from 'typeorm';
import type { AppConfig } from '../config';
import { createPGliteDriver } from './pglite-pool';
import { LockHolder, LockPurpose, PGliteLock } from './pglite-lock';

/**
 * Every file in migrations/ (TypeScript in a checkout, JavaScript in dist/): each feature adds
 * its own timestamp-named migration class there.
 */
export const MIGRATIONS_GLOB = path.join(__dirname, '..', '..', 'migrations', '*.{ts,js}');

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Entities = MixedList<Function | string | EntitySchema>;

/** TypeORM options for PostgreSQL (DATABASE_URL) or embedded PGlite (DATA_DIR/pglite). */
export function dataSourceOptions(config: AppConfig, entities: Entities = []): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each' as const,
    // Ids are generated in code (crypto.randomUUID), so TypeORM needs no uuid extension.
    installExtensions: false,
    synchronize: false,
    logging: ['error', 'warn'] as ('error' | 'warn')[],
  };
  if (config.database.kind === 'postgres') {
    return { ...common, url: config.database.url, poolSize: 10, applicationName: 'rir' };
  }
  return { ...common, driver: createPGliteDriver(config.database.dir) };
}

/** The lock an embedded database needs, or null for PostgreSQL. */
export function lockFor(config: AppConfig, holder: LockHolder, purpose: LockPurpose = holder) {
  return config.database.kind === 'pglite' ? { dataDir: config.dataDir, holder, purpose } : null;
}

/** A data source that also releases the embedded-database lock when destroyed. */
export class LockedDataSource extends DataSource {
  lock: PGliteLock | null = null;

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      this.lock?.release();
      this.lock = null;
    }
  }
}

/**
 * Opens the database for the server or a CLI command: takes the PGlite lock in embedded mode
 * (throwing DatabaseInUseError when another live process holds it) and initialises TypeORM.
 */
export async function openDataSource(
  options: DataSourceOptions,
  lock: ReturnType<typeof lockFor>,
): Promise<LockedDataSource> {
  const dataSource = new LockedDataSource(options);
  if (lock) dataSource.lock = PGliteLock.acquire(lock.dataDir, lock.holder, lock.purpose);
  try {
    await dataSource.initialize();
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return dataSource;
}
