import { loadConfig } from '../config';
import type { AppConfig } from '../config';
import { dataSourceOptions, lockFor, LockedDataSource, openDataSource } from '../database';
import type { LockPurpose } from '../database/pglite-lock';

/** Opens the database for a one-shot command (taking the embedded lock), runs `work`, closes. */
export async function withCliDatabase<T>(
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: Function[],
  dataDir: string | undefined,
  work: (dataSource: LockedDataSource, config: AppConfig) => Promise<T>,
  purpose: LockPurpose = 'cli',
): Promise<T> {
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir ?? process.env.DATA_DIR });
  const lock = lockFor(config, 'cli', purpose);
  const dataSource = await openDataSource(dataSourceOptions(config, entities), lock);
  try {
    return await work(dataSource, config);
  } finally {
    await dataSource.destroy();
  }
}
