/**
 * Stopping what a bench started. A child server is asked to stop (SIGTERM: `rir serve` then saves its
 * index and releases DATA_DIR's database lock) and, when it has not exited within the grace period,
 * killed, so that no bench leaves a process behind holding a port or a data directory.
 */
import type { ChildProcess } from 'child_process';
import { readFileSync } from 'fs';

export type StopOutcome = 'already-exited' | 'exited' | 'killed';

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** SIGTERM, up to `graceMs` for a clean exit, then SIGKILL; resolves once the child has exited. */
export async function stopChild(
  child: ChildProcess,
  { graceMs = 60_000, name = 'child process' }: { graceMs?: number; name?: string } = {},
): Promise<StopOutcome> {
  if (child.exitCode !== null || child.signalCode !== null) return 'already-exited';
  const exited = exitOf(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>(
    (resolve) => (timer = setTimeout(() => resolve('late'), graceMs)),
  );
  const first = await Promise.race([exited.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (first === 'exited') return 'exited';
  console.error(
    `${name} (pid ${child.pid}) did not exit within ${graceMs} ms of SIGTERM: killing it`,
  );
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}

/** Stops every child (in parallel); see stopChild. */
export async function stopChildren(
  children: readonly ChildProcess[],
  options?: { graceMs?: number; name?: string },
): Promise<StopOutcome[]> {
  return Promise.all(children.map((child) => stopChild(child, options)));
}

/**
 * When the bench itself is interrupted (Ctrl-C, or SIGTERM from `timeout`), stops the children first:
 * a child in its own session would otherwise outlive it. Exits with 128 + the signal's number.
 */
export function stopOnSignals(
  children: readonly ChildProcess[],
  options?: { graceMs?: number; name?: string },
): void {
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
  ] as const) {
    process.once(signal, () => {
      void stopChildren(children, options).finally(() => process.exit(128 + number));
    });
  }
}

/**
 * CPU time a process has used so far, user and system, in seconds (Linux /proc, 10 ms ticks); NaN for
 * both when it cannot be read (no such process, not Linux).
 */
export function cpuSeconds(pid: number | undefined): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}
