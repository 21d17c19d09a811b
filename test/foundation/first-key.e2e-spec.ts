import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataSource } from 'typeorm';
import { ApiKeysService } from '../../src/modules/api-keys/api-keys.service';
import { createTestApp, TestApp, TestAppOptions } from '../utils/create-test-app';
import { seedPGliteDir } from '../utils/pglite-template';
import { runCli } from '../utils/run-cli';

const embedded = !process.env.DATABASE_URL;

/** What the app wrote on stderr while `work` ran (the initial admin key's banner goes there). */
async function withStderr<T>(work: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { value: await work(), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** The key in the banner: the one indented line that is a key. */
function printedKey(stderr: string): string | undefined {
  return /^ {4}(rir_[A-Za-z0-9_-]{20,})$/m.exec(stderr)?.[1];
}

/** A fresh install: no API key, no ADMIN_API_KEY (`npm ci && npm start`). */
describe('first start without any API key', () => {
  let t: TestApp;
  let firstStderr: string;
  let key: string;
  const options: TestAppOptions = { withoutAdminKey: true };
  const copy = () => path.join(t.config.dataDir, 'initial-admin-key');

  beforeAll(async () => {
    const started = await withStderr(() => createTestApp(options));
    t = started.value;
    firstStderr = started.stderr;
  });
  afterAll(() => t?.close());

  it('prints an admin key once on stderr, with how to rotate it, and keeps a 0600 copy in DATA_DIR', () => {
    key = printedKey(firstStderr)!;
    expect(key).toBeDefined();
    expect(firstStderr.match(/rir_[A-Za-z0-9_-]{20,}/g)).toEqual([key]);
    expect(firstStderr).toContain('It is shown only this once');
    expect(firstStderr).toMatch(/To rotate it: create a new admin key/);
    expect(firstStderr).toMatch(/then revoke this one with the new key:\nDELETE \/v1\/api-keys\//);
    expect(firstStderr).toContain(`A copy is in ${copy()} (readable by this user only)`);
    expect(fs.statSync(copy()).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(copy(), 'utf8').trim()).toBe(key);
  });

  it('the key works: admin requests succeed with it', async () => {
    const listed = await t.http.get('/v1/api-keys').set('x-api-key', key);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({
        name: 'initial-admin',
        role: 'admin',
        keyPrefix: key.slice(0, 10),
      }),
    ]);
    const created = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', key)
      .send({ name: 'frontend', role: 'search' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'frontend', role: 'search' });
  });

  it('is not printed again at the next start, and no second key is made', async () => {
    const restarted = await withStderr(() => t.restart(options));
    t = restarted.value;
    expect(restarted.stderr).not.toMatch(/rir_|admin key/);
    const listed = await t.http.get('/v1/api-keys').set('x-api-key', key);
    expect(listed.status).toBe(200);
    expect((listed.body.items as { name: string }[]).map((k) => k.name)).toEqual([
      'initial-admin',
      'frontend',
    ]);
  });

  it('rotates as the banner says: a new admin key revokes it, which deletes the copy', async () => {
    const next = await t.http
      .post('/v1/api-keys')
      .set('x-api-key', key)
      .send({ name: 'ops', role: 'admin' });
    expect(next.status).toBe(201);
    const initialId = /DELETE \/v1\/api-keys\/([0-9a-f-]{36})/.exec(firstStderr)![1];
    await t.http.delete(`/v1/api-keys/${initialId}`).set('x-api-key', next.body.key).expect(204);
    expect(fs.existsSync(copy())).toBe(false);
    const refused = await t.http.get('/v1/api-keys').set('x-api-key', key);
    expect([refused.status, refused.body.message]).toEqual([401, expect.any(String)]);

    // Revoked keys still count as keys: no new initial key is made.
    const restarted = await withStderr(() => t.restart(options));
    t = restarted.value;
    expect(restarted.stderr).not.toMatch(/rir_|admin key/);
    expect(fs.existsSync(copy())).toBe(false);
  });
});

describe('start with ADMIN_API_KEY', () => {
  it('makes no initial key', async () => {
    const { value: t, stderr } = await withStderr(() => createTestApp());
    try {
      expect(stderr).not.toMatch(/rir_|admin key/);
      expect(fs.existsSync(path.join(t.config.dataDir, 'initial-admin-key'))).toBe(false);
      const listed = await t.http.get('/v1/api-keys').set('x-api-key', t.adminKey).expect(200);
      expect((listed.body.items as { name: string }[]).map((k) => k.name)).toEqual([
        'ADMIN_API_KEY',
      ]);
    } finally {
      await t.close();
    }
  });
});

describe('replicas starting together on an empty key table', () => {
  it('make one initial key between them', async () => {
    const t = await createTestApp();
    try {
      await t.app.get(DataSource).query('DELETE FROM api_keys');
      const service = t.app.get(ApiKeysService);
      const made = await Promise.all(
        Array.from({ length: 6 }, () => service.createInitialAdminKey()),
      );
      expect(made.filter((key) => key !== null)).toHaveLength(1);
      const rows = await t.app.get(DataSource).query('SELECT name FROM api_keys');
      expect(rows).toEqual([{ name: 'initial-admin' }]);
    } finally {
      await t.close();
    }
  });
});

/** The real processes: `rir serve` holds the embedded database, `rir keys create` goes through it. */
(embedded ? describe : describe.skip)('rir keys create while rir serve runs (embedded)', () => {
  let dataDir: string;
  let child: ChildProcessWithoutNullStreams | undefined;
  let url: string;
  let serverStderr = '';
  const env = { DATA_DIR: '', DATABASE_URL: '', ADMIN_API_KEY: '', RIR_ADMIN_KEY: '' };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-first-key-'));
    env.DATA_DIR = dataDir;
    await seedPGliteDir(path.join(dataDir, 'pglite'));
    const bin = path.join(__dirname, '..', '..', 'bin', 'rir');
    child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    });
    child.stderr.on('data', (chunk: Buffer) => (serverStderr += chunk.toString()));
    let stdout = '';
    url = await new Promise<string>((resolve, reject) => {
      child!.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /rir listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child!.once('exit', (code) =>
        reject(new Error(`serve exited with ${code}:\n${stdout}\n${serverStderr}`)),
      );
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const create = (args: string[], extra: Record<string, string> = {}) =>
    runCli(['keys', 'create', '--data-dir', dataDir, ...args], { ...env, ...extra });

  it('printed the initial admin key on the console of `rir serve`', () => {
    expect(printedKey(serverStderr)).toBe(
      fs.readFileSync(path.join(dataDir, 'initial-admin-key'), 'utf8').trim(),
    );
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8'))).toEqual({
      pid: child!.pid,
      url,
    });
  });

  it('creates a working key through the server, with the initial key from DATA_DIR', async () => {
    const res = await create(['--role', 'security', '--name', 'cli', '--json']);
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
    const probe = await fetch(`${url}/v1/api-keys`, { headers: { 'x-api-key': created.key } });
    expect(probe.status).toBe(403);
    expect(((await probe.json()) as { message: string }).message).toMatch(/role security/);
  });

  it('uses RIR_ADMIN_KEY when it is set, and names it when the server refuses it', async () => {
    const refused = await create(['--role', 'search', '--name', 'x'], {
      RIR_ADMIN_KEY: 'rir_wrong',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `rir: the server at ${url} did not create the key (401: Invalid API key); the admin key came from RIR_ADMIN_KEY`,
    );

    const admin = printedKey(serverStderr)!;
    const res = await create(['--role', 'admin', '--name', 'ops'], { RIR_ADMIN_KEY: admin });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      new RegExp(
        `^Created admin key 'ops' \\(id [0-9a-f-]{36}\\) through the server at ${url}\\.\n`,
      ),
    );
  });

  it('stops the server cleanly, removing its address', async () => {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGTERM');
    await exited;
    expect(fs.existsSync(path.join(dataDir, 'server.json'))).toBe(false);
    // With the server gone the command writes to the database itself again.
    const res = await create(['--role', 'search', '--name', 'offline', '--json']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ name: 'offline', role: 'search' });
  });
});
