import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { seedPGliteDir } from '../utils/pglite-template';

/** The real `rir serve` process: starts, answers, and on SIGTERM exits 0 releasing the lock. */
(process.env.DATABASE_URL ? describe.skip : describe)('rir serve (embedded)', () => {
  let dataDir: string;
  let child: ChildProcessWithoutNullStreams | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-serve-'));
    await seedPGliteDir(path.join(dataDir, 'pglite'));
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves on the port it reports and shuts down cleanly on SIGTERM', async () => {
    const bin = path.join(__dirname, '..', '..', 'bin', 'rir');
    child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--host', '127.0.0.1'], {
      env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'info' },
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /rir listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) resolve(match[1]);
      });
      child!.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
    });

    const live = await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'serve-e2e-1' } });
    expect(live.status).toBe(200);
    expect(live.headers.get('x-request-id')).toBe('serve-e2e-1');
    const lock = JSON.parse(fs.readFileSync(path.join(dataDir, 'pglite.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: child.pid, holder: 'server' });
    // Every line on stdout is a JSON log record.
    for (const line of output
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))) {
      expect(() => JSON.parse(line)).not.toThrow();
    }

    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child!.removeAllListeners('exit');
      child!.on('exit', (code, signal) => resolve({ code, signal }));
      child!.kill('SIGTERM');
    });
    // Nest closes the app, then re-raises the signal on itself: a clean stop either way.
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(output).not.toMatch(/"level":50/);
    // The request's log record carries its id, method, path and status.
    const records = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            req?: { id?: string; url?: string };
            res?: { statusCode?: number };
          },
      );
    expect(records).toContainEqual(
      expect.objectContaining({
        req: expect.objectContaining({ id: 'serve-e2e-1', method: 'GET', url: '/health/live' }),
        res: { statusCode: 200 },
      }),
    );
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
  });
});
