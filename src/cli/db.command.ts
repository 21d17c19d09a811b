import type { Command } from 'commander';
import { withCliDatabase } from './cli-database';

export function register(program: Command): void {
  const db = program.command('db').description('Database maintenance');
  db.command('migrate')
    .description('Apply pending migrations (the server also applies them at start-up)')
    .option('--data-dir <dir>', 'data directory (DATA_DIR)')
    .option('--json', 'print the applied migrations as JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const applied = await withCliDatabase([], opts.dataDir, async (dataSource) =>
        (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name),
      );
      if (opts.json) console.log(JSON.stringify({ applied }));
      else
        console.log(
          applied.length
            ? `Applied:\n  ${applied.join('\n  ')}`
            : 'Up to date: no pending migrations.',
        );
    });
}
