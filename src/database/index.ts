export {
  dataSourceOptions,
  lockFor,
  LockedDataSource,
  MIGRATIONS_GLOB,
  openDataSource,
} from './data-source';
export { DatabaseInUseError, PGliteLock } from './pglite-lock';
export { DatabaseModule } from './database.module';
