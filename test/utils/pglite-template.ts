import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPGlite } from '../../src/database/load-pglite';

/**
 * initdb in PGlite takes seconds; copying a cleanly closed, freshly initialised data directory
 * takes milliseconds. The template is built once per machine and PGlite version (before any
 * migration, so migrations still run in every test app) and shared by parallel Jest workers.
 */
export async function seedPGliteDir(target: string): Promise<void> {
  const packageJson = path.join(
    path.dirname(require.resolve('@electric-sql/pglite')),
    '..',
    'package.json',
  );
  const { version } = JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { version: string };
  const template = path.join(os.tmpdir(), `rir-pglite-template-${version}`);
  if (!fs.existsSync(path.join(template, 'PG_VERSION'))) {
    const building = fs.mkdtempSync(`${template}.building-`);
    const pglite = await loadPGlite().PGlite.create(building);
    await pglite.close();
    try {
      fs.renameSync(building, template);
    } catch {
      // Another worker won the race: its template is as good as ours.
      fs.rmSync(building, { recursive: true, force: true });
    }
  }
  fs.cpSync(template, target, { recursive: true });
}
