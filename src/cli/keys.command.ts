import type { Command } from 'commander';
import { ApiKey } from '../modules/api-keys/api-key.entity';
import { ApiKeysRepository } from '../modules/api-keys/api-keys.repository';
import { ApiKeysService } from '../modules/api-keys/api-keys.service';
import { ROLES, Role } from '../modules/auth/roles';
import { withCliDatabase } from './cli-database';

export function register(program: Command): void {
  const keys = program.command('keys').description('Manage API keys');
  keys
    .command('create')
    .description('Create an API key and print it (it is shown only once)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .requiredOption('--name <name>', 'what the key is for')
    .option('--data-dir <dir>', 'data directory (DATA_DIR)')
    .option('--json', 'print { id, name, role, key } as JSON')
    .action(async (opts: { role: string; name: string; dataDir?: string; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) {
        throw new Error(`--role must be one of ${ROLES.join(', ')} (got '${opts.role}')`);
      }
      const name = opts.name.trim();
      if (name.length < 1 || name.length > 100)
        throw new Error('--name must be 1 to 100 characters');
      const created = await withCliDatabase(
        [ApiKey],
        opts.dataDir,
        async (dataSource) => {
          // Brings a fresh database up to date, as the server would.
          await dataSource.runMigrations({ transaction: 'each' });
          const repository = new ApiKeysRepository(dataSource.getRepository(ApiKey));
          return new ApiKeysService(repository).create(name, opts.role as Role);
        },
        'keys',
      );
      if (opts.json) {
        console.log(JSON.stringify(created));
      } else {
        console.log(`Created ${created.role} key '${created.name}' (id ${created.id}).`);
        console.log(`Key (shown only now; send it as the x-api-key header):\n${created.key}`);
      }
    });
}
