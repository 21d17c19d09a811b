import { loadConfig } from '../config';
import type { AppConfig } from '../config';
import { dataSourceOptions, lockFor, LockedDataSource, openDataSource } from '../database';

/** Opens the database for a one-shot command (taking the embedded lock), runs `work`, closes. */
export async function withCliDatabase<T>(
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: Function[],
  dataDir: string | undefined,
  work: (dataSource: LockedDataSource, config: AppConfig) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir ?? process.env.DATA_DIR });
  const dataSource = await openDataSource(
    dataSourceOptions(config, entities),
    lockFor(config, 'cli'),
  );
  try {
    return await work(dataSource, config);
  } finally {
    await dataSource.destroy();
  }
}
