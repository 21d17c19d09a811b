import type { Command } from 'commander';
import { readServerAddress } from '../common/server-address';
import { loadConfig } from '../config';
import { DatabaseInUseError } from '../database';
import { ApiKey } from '../modules/api-keys/api-key.entity';
import { ApiKeysRepository } from '../modules/api-keys/api-keys.repository';
import { ApiKeysService, CreatedApiKey } from '../modules/api-keys/api-keys.service';
import {
  initialAdminKeyPath,
  readInitialAdminKeyFile,
} from '../modules/api-keys/initial-admin-key';
import { ROLES, Role } from '../common/roles';
import { withCliDatabase } from './cli-database';

/** The variable that gives `rir keys create --url` (or a server found in DATA_DIR) its admin key. */
export const ADMIN_KEY_VARIABLE = 'RIR_ADMIN_KEY';

interface KeysCreateOptions {
  role: string;
  name: string;
  dataDir?: string;
  url?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const keys = program.command('keys').description('Manage API keys');
  keys
    .command('create')
    .description(
      'Create an API key and print it (it is shown only once). Writes to the database; while a ' +
        'server holds the embedded database, goes through that server over HTTP with an admin key ' +
        `(${ADMIN_KEY_VARIABLE}, ADMIN_API_KEY or DATA_DIR/initial-admin-key)`,
    )
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .requiredOption('--name <name>', 'what the key is for')
    .option('--data-dir <dir>', 'data directory (DATA_DIR)')
    .option(
      '--url <url>',
      `create the key through the server at this URL (POST /v1/api-keys with the admin key in ${ADMIN_KEY_VARIABLE})`,
    )
    .option('--json', 'print { id, name, role, key } as JSON')
    .action(async (opts: KeysCreateOptions) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) {
        throw new Error(`--role must be one of ${ROLES.join(', ')} (got '${opts.role}')`);
      }
      const name = opts.name.trim();
      if (name.length < 1 || name.length > 100)
        throw new Error('--name must be 1 to 100 characters');
      const role = opts.role as Role;
      const dataDir = loadConfig({
        ...process.env,
        DATA_DIR: opts.dataDir ?? process.env.DATA_DIR,
      }).dataDir;
      let through: string | null = opts.url ?? null;
      let created: CreatedApiKey;
      if (through) {
        created = await createOverHttp(through, name, role, dataDir);
      } else {
        try {
          created = await createInDatabase(name, role, opts.dataDir);
        } catch (error) {
          // The embedded database belongs to a running server: ask that server.
          through = runningServerUrl(error);
          if (!through) throw error;
          created = await createOverHttp(through, name, role, dataDir);
        }
      }
      if (opts.json) {
        console.log(JSON.stringify(created));
      } else {
        const where = through ? ` through the server at ${through}` : '';
        console.log(`Created ${created.role} key '${created.name}' (id ${created.id})${where}.`);
        console.log(`Key (shown only now; send it as the x-api-key header):\n${created.key}`);
      }
    });
}

function createInDatabase(
  name: string,
  role: Role,
  dataDir: string | undefined,
): Promise<CreatedApiKey> {
  return withCliDatabase(
    [ApiKey],
    dataDir,
    async (dataSource) => {
      // Brings a fresh database up to date, as the server would.
      await dataSource.runMigrations({ transaction: 'each' });
      const repository = new ApiKeysRepository(dataSource.getRepository(ApiKey));
      return new ApiKeysService(repository).create(name, role);
    },
    'keys',
  );
}

/** The URL of the server that holds the embedded database (as it recorded it), if it listens. */
function runningServerUrl(error: unknown): string | null {
  if (!(error instanceof DatabaseInUseError) || error.owner.holder !== 'server') return null;
  const address = readServerAddress(error.dataDir);
  return address?.pid === error.owner.pid ? address.url : null;
}

/** An admin key for the HTTP API, and where it came from (for error messages). */
function findAdminKey(dataDir: string): { key: string; from: string } | null {
  for (const variable of [ADMIN_KEY_VARIABLE, 'ADMIN_API_KEY']) {
    const key = process.env[variable]?.trim();
    if (key) return { key, from: variable };
  }
  const key = readInitialAdminKeyFile(dataDir);
  return key ? { key, from: initialAdminKeyPath(dataDir) } : null;
}

async function createOverHttp(
  url: string,
  name: string,
  role: Role,
  dataDir: string,
): Promise<CreatedApiKey> {
  const admin = findAdminKey(dataDir);
  if (!admin) {
    throw new Error(
      `creating a key through the server at ${url} needs an admin key: set ${ADMIN_KEY_VARIABLE} ` +
        `(or ADMIN_API_KEY); the first start keeps one in ${initialAdminKeyPath(dataDir)} until it is revoked`,
    );
  }
  let response: Response;
  try {
    response = await fetch(`${url.replace(/\/+$/, '')}/v1/api-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': admin.key },
      body: JSON.stringify({ name, role }),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new Error(`could not reach the server at ${url}: ${cause ?? (error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as Partial<CreatedApiKey> & {
    message?: string;
  };
  if (response.status !== 201 || typeof body.key !== 'string') {
    throw new Error(
      `the server at ${url} did not create the key (${response.status}: ` +
        `${body.message ?? response.statusText}); the admin key came from ${admin.from}`,
    );
  }
  return { id: body.id!, name: body.name!, role: body.role!, key: body.key };
}
