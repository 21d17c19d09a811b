import { createTestApp, TestApp } from '../utils/create-test-app';
import { runCli } from '../utils/run-cli';

const embedded = !process.env.DATABASE_URL;

/** Keys survive a restart (same data directory, or the same PostgreSQL database). */
describe('restart and the keys command line', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const cliEnv = () => ({
    DATA_DIR: t.config.dataDir,
    DATABASE_URL: t.config.database.kind === 'postgres' ? t.config.database.url : '',
  });

  it('keeps keys, revocations and the ADMIN_API_KEY registration across a restart', async () => {
    const search = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', t.adminKey)
      .send({ name: 'survivor', role: 'search' });
    const doomed = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', t.adminKey)
      .send({ name: 'doomed', role: 'admin' });
    await t.http.delete(`/v1/api-keys/${doomed.body.id}`).set('x-api-key', t.adminKey).expect(204);

    t = await t.restart();

    expect((await t.http.get('/v1/api-keys').set('x-api-key', search.body.key)).status).toBe(403);
    expect((await t.http.get('/v1/api-keys').set('x-api-key', doomed.body.key)).status).toBe(401);
    const listed = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey).expect(200);
    const rows = listed.body.items as { name: string; keyPrefix: string }[];
    // ADMIN_API_KEY registered once, however many times the app starts; none of it is shown.
    expect(rows.map((k) => k.name).sort()).toEqual(['ADMIN_API_KEY', 'survivor']);
    expect(rows.find((k) => k.name === 'ADMIN_API_KEY')?.keyPrefix).toBe('env');
    expect(JSON.stringify(listed.body)).not.toContain(t.adminKey.slice(-12));
  });

  (embedded ? it : it.skip)(
    'rir keys create refuses, clearly, while a server that does not listen yet holds the embedded database',
    async () => {
      const res = await runCli(['keys', 'create', '--role', 'admin', '--name', 'ops'], cliEnv());
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(
        `the embedded database in ${t.config.dataDir} is in use by a running server (pid ${process.pid}); ` +
          'once it listens, `rir keys create` goes through its HTTP API (or pass --url); or stop it',
      );
    },
  );

  it('rir keys create prints a working key once (PGlite: server stopped; PostgreSQL: running)', async () => {
    if (embedded) await t.app.close();
    const res = await runCli(
      ['keys', 'create', '--role', 'security', '--name', 'cli', '--json'],
      cliEnv(),
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const created = JSON.parse(res.stdout) as {
      id: string;
      name: string;
      role: string;
      key: string;
    };
    expect(created).toMatchObject({
      name: 'cli',
      role: 'security',
      key: expect.stringMatching(/^rir_/),
    });

    if (embedded) t = await t.restart();
    const probe = await t.http.get('/v1/api-keys').set('x-api-key', created.key);
    expect(probe.status).toBe(403);
    expect(probe.body.message).toMatch(/this key has role security/);
  });
});
