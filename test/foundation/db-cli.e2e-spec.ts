import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { seedPGliteDir } from '../utils/pglite-template';
import { runCli } from '../utils/run-cli';

/** `rir db migrate` on a fresh embedded database applies every migration, then none. */
(process.env.DATABASE_URL ? describe.skip : describe)('rir db migrate (embedded)', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-migrate-'));
    await seedPGliteDir(path.join(dataDir, 'pglite'));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('applies the pending migrations once', async () => {
    const env = { DATABASE_URL: '' };
    const first = await runCli(['db', 'migrate', '--json', '--data-dir', dataDir], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const applied = (JSON.parse(first.stdout) as { applied: string[] }).applied;
    const files = fs
      .readdirSync(path.join(__dirname, '..', '..', 'migrations'))
      .filter((name) => name.endsWith('.ts'));
    expect(applied).toHaveLength(files.length);
    expect(applied).toContain('CreateApiKeys1764100000000');

    const second = await runCli(['db', 'migrate', '--json', '--data-dir', dataDir], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ applied: [] });
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
  });
});
