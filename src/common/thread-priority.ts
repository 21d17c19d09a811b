import * as os from 'os';

/**
 * Raises the calling thread's nice value to `nice` (never lowers it). On Linux, setpriority(PRIO_PROCESS, 0)
 * applies to the calling thread only, and threads it starts afterwards inherit it, so the HTTP loop keeps
 * its priority. Raising nice needs no privilege; where the platform refuses, the thread simply runs at
 * normal priority. Returns the nice value the thread runs at.
 */
export function lowerThreadPriority(nice: number): number {
  try {
    const current = os.getPriority();
    if (nice > current) os.setPriority(Math.min(19, nice));
    return os.getPriority();
  } catch {
    // e.g. a sandbox that forbids setpriority: keep the default priority.
    return 0;
  }
}
