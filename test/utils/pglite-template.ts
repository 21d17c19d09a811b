import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig } from '../../src/config';
import { dataSourceOptions, openDataSource } from '../../src/database';
import { loadPGlite } from '../../src/database/load-pglite';

const MIGRATIONS_DIR = path.join(__dirname, '..', '..', 'migrations');
const STALE_AFTER_MS = 60 * 60 * 1000;

function pgliteVersion(): string {
  const main = require.resolve('@electric-sql/pglite');
  const packageJson = path.join(path.dirname(main), '..', 'package.json');
  return (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** A hash of every migration file (names and contents): a new or edited one makes a new template. */
function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const name of fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((n) => /\.(ts|js)$/.test(n))
    .sort()) {
    hash.update(name).update(fs.readFileSync(path.join(MIGRATIONS_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Builds `template` with `build(dir)` unless it exists; parallel Jest workers may race, harmlessly. */
async function ensureTemplate(template: string, build: (dir: string) => Promise<void>) {
  if (fs.existsSync(path.join(template, 'PG_VERSION'))) return;
  const building = fs.mkdtempSync(`${template}.building-`);
  try {
    await build(building);
    fs.renameSync(building, template);
  } catch (error) {
    fs.rmSync(building, { recursive: true, force: true });
    // Another worker won the race: its template is as good as ours.
    if (!fs.existsSync(path.join(template, 'PG_VERSION'))) throw error;
  }
}

/** Removes migrated templates of older migration sets (unused for an hour). */
function removeStaleTemplates(prefix: string, keep: string): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const full = path.join(os.tmpdir(), name);
    if (!name.startsWith(prefix) || full === keep) continue;
    try {
      if (Date.now() - fs.statSync(full).mtimeMs > STALE_AFTER_MS)
        fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // Gone already.
    }
  }
}

/**
 * PGlite's initdb takes seconds, and so do the migrations; copying a cleanly closed data
 * directory takes a fraction of that. Two templates are kept in the temp dir: a fresh cluster
 * (per PGlite version) and, with `migrated`, one with every migration in migrations/ applied
 * (per PGlite version and migration set). The app still checks for pending migrations at start.
 */
export async function seedPGliteDir(
  target: string,
  options: { migrated?: boolean } = {},
): Promise<void> {
  const version = pgliteVersion();
  const base = path.join(os.tmpdir(), `rir-pglite-template-${version}`);
  await ensureTemplate(base, async (dir) => {
    await (await loadPGlite().PGlite.create(dir)).close();
  });
  if (!options.migrated) {
    fs.cpSync(base, target, { recursive: true });
    return;
  }
  const prefix = `rir-pglite-migrated-${version}-`;
  const migrated = path.join(os.tmpdir(), `${prefix}${migrationsHash()}`);
  await ensureTemplate(migrated, async (dir) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-template-data-'));
    try {
      fs.cpSync(base, path.join(dataDir, 'pglite'), { recursive: true });
      const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: '' });
      const dataSource = await openDataSource(dataSourceOptions(config), null);
      try {
        await dataSource.runMigrations({ transaction: 'each' });
      } finally {
        await dataSource.destroy();
      }
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(path.join(dataDir, 'pglite'), dir);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
  fs.utimesSync(migrated, new Date(), new Date());
  removeStaleTemplates(prefix, migrated);
  fs.cpSync(migrated, target, { recursive: true });
}
