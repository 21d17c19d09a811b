import { performance } from 'perf_hooks';
import { setImmediate as nextMacrotask } from 'timers/promises';

/** How long a synchronous stretch of work may hold the main thread before handing it back. */
export const DEFAULT_SLICE_MS = 4;

/**
 * Cuts a long synchronous loop on the main thread into slices: `tick()` resolves at once while the
 * current slice is shorter than `sliceMs`, and otherwise after one turn of the event loop, so requests
 * that arrived meanwhile are served between slices. An HNSW insert costs ~0.5 ms at 70,000 items, so a
 * 50-image upload indexed in one go held every search for 25 ms or more, and a deploy's 5,000-row page
 * for seconds.
 */
export class EventLoopPacer {
  private sliceStart = performance.now();
  private yields = 0;

  constructor(private readonly sliceMs = DEFAULT_SLICE_MS) {
    if (!(sliceMs >= 0))
      throw new Error(`slice must be a non-negative number of ms (got ${sliceMs})`);
  }

  /** Resolves true when it handed the event loop back (the caller re-checks any shared state). */
  async tick(): Promise<boolean> {
    if (performance.now() - this.sliceStart < this.sliceMs) return false;
    await nextMacrotask();
    this.yields++;
    this.sliceStart = performance.now();
    return true;
  }

  /** How many times this pacer handed the event loop back. */
  get yieldCount(): number {
    return this.yields;
  }
}
