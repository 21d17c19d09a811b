import * as fs from 'fs';
import * as path from 'path';

export type LockHolder = 'server' | 'cli';

export interface LockContent {
  pid: number;
  holder: LockHolder;
  since: string;
}

/** What to suggest when the database is taken, by what the contender wanted to do. */
const HINTS = {
  server: 'stop it first, or set DATABASE_URL to share a PostgreSQL server',
  keys: 'once it listens, `rir keys create` goes through its HTTP API (or pass --url); or stop it',
  cli: 'stop it first, or set DATABASE_URL to share a PostgreSQL server',
} as const;
export type LockPurpose = keyof typeof HINTS;

export class DatabaseInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockContent,
    purpose: LockPurpose,
  ) {
    const who = owner.holder === 'server' ? 'a running server' : 'another rir command';
    super(
      `the embedded database in ${dataDir} is in use by ${who} (pid ${owner.pid}); ${HINTS[purpose]}`,
    );
    this.name = 'DatabaseInUseError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockContent | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockContent;
  } catch {
    return null;
  }
}

/** Lock files held by this process, so that one process cannot open the same directory twice. */
const heldHere = new Set<string>();

/**
 * Embedded PGlite is single-process: whoever opens DATA_DIR/pglite holds DATA_DIR/pglite.lock
 * (written with O_EXCL). A lock left by a dead process is removed.
 */
export class PGliteLock {
  private released = false;

  private constructor(readonly file: string) {}

  static acquire(dataDir: string, holder: LockHolder, purpose: LockPurpose = holder): PGliteLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'pglite.lock');
    const content: LockContent = { pid: process.pid, holder, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(content), { flag: 'wx' });
        heldHere.add(file);
        return new PGliteLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readLock(file);
      const stale =
        owner === null || (owner.pid === process.pid ? !heldHere.has(file) : !isAlive(owner.pid));
      if (!stale) throw new DatabaseInUseError(dataDir, owner, purpose);
      fs.rmSync(file, { force: true });
    }
    throw new Error(`could not take the lock ${file}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    const owner = readLock(this.file);
    if (owner?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

// Best effort on abrupt exits; the dead-pid check covers the rest.
process.once('exit', () => {
  for (const file of heldHere) fs.rmSync(file, { force: true });
});
