import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DatabaseInUseError, PGliteLock } from './pglite-lock';

describe('PGliteLock', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rir-lock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const lockFile = () => path.join(dir, 'pglite.lock');

  it('writes the holder pid and removes the file on release', () => {
    const lock = PGliteLock.acquire(dir, 'server');
    expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8'))).toMatchObject({
      pid: process.pid,
      holder: 'server',
    });
    lock.release();
    expect(fs.existsSync(lockFile())).toBe(false);
  });

  it('refuses a second holder while the first lives, naming the pid and the way out', () => {
    const lock = PGliteLock.acquire(dir, 'server');
    expect(() => PGliteLock.acquire(dir, 'server')).toThrow(
      /in use by a running server \(pid \d+\); stop it first, or set DATABASE_URL/,
    );
    expect(() => PGliteLock.acquire(dir, 'cli')).toThrow(DatabaseInUseError);
    expect(() => PGliteLock.acquire(dir, 'cli', 'keys')).toThrow(
      `the embedded database in ${dir} is in use by a running server (pid ${process.pid}); ` +
        'once it listens, `rir keys create` goes through its HTTP API (or pass --url); or stop it',
    );
    lock.release();
    PGliteLock.acquire(dir, 'cli').release();
  });

  it('refuses a lock held by another live process', () => {
    // pid 1 is always alive (init); EPERM still counts as alive.
    fs.writeFileSync(lockFile(), JSON.stringify({ pid: 1, holder: 'server', since: '' }));
    expect(() => PGliteLock.acquire(dir, 'cli')).toThrow(/in use by a running server \(pid 1\)/);
  });

  it('takes over a stale lock left by a dead process', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    fs.writeFileSync(lockFile(), JSON.stringify({ pid: dead, holder: 'server', since: '' }));
    const lock = PGliteLock.acquire(dir, 'cli');
    expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over an unreadable lock file', () => {
    fs.writeFileSync(lockFile(), 'garbage');
    PGliteLock.acquire(dir, 'server').release();
  });
});
