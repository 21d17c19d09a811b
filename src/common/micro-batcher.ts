/** Starts and cancels the collection window (injectable, so tests drive it with fake timers). */
export interface BatchTimer {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMER: BatchTimer = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface MicroBatcherOptions<I, O> {
  /**
   * How long the first item of a batch waits for others, in ms. 0: no batching, every item is run
   * alone at once.
   */
  windowMs: number;
  /** Most items in one batch; a batch that reaches it is run at once, without waiting out the window. */
  maxBatch: number;
  /** Does the work for a batch: one output per input, in the same order. */
  run: (items: I[]) => Promise<O[]>;
  /**
   * Checks one item before it joins a batch; what it throws rejects that item alone. Items that could
   * fail the whole batch (a wrong shape) belong here.
   */
  validate?: (item: I) => void;
  /** Called with the size of every batch handed to `run` (a metric). */
  onBatch?: (size: number) => void;
  timer?: BatchTimer;
}

/** What a cancelled item is rejected with when its signal gave no reason. */
export class BatchItemAbortedError extends Error {
  constructor() {
    super('cancelled before its batch was sent');
    this.name = 'AbortError';
  }
}

interface Waiting<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * Dynamic batching as inference servers do it: the first item opens a collection window of
 * `windowMs`; items that arrive within it join the same batch, and the batch is run when the window
 * closes or as soon as it holds `maxBatch` items. Each caller gets its own output.
 *
 * Failure isolation: an item refused by `validate` never joins a batch; when `run` rejects for a
 * batch of several items, each is run again alone (one after the other, so they cannot be merged
 * again downstream), and only the items that fail alone are rejected.
 *
 * Cancellation: an item whose signal aborts while it waits in the open batch is taken out of it and
 * rejected with the signal's reason; once its batch has been handed to `run` the work is not recalled
 * and the item settles with its batch.
 */
export class MicroBatcher<I, O> {
  private open: Waiting<I, O>[] = [];
  private timer: unknown = null;
  private readonly clock: BatchTimer;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    if (!(Number.isFinite(options.windowMs) && options.windowMs >= 0))
      throw new Error(`windowMs must be a non-negative number (got ${options.windowMs})`);
    if (!(Number.isInteger(options.maxBatch) && options.maxBatch >= 1))
      throw new Error(`maxBatch must be a positive integer (got ${options.maxBatch})`);
    this.clock = options.timer ?? REAL_TIMER;
  }

  /** Items waiting in the open batch (not yet handed to `run`). */
  get waiting(): number {
    return this.open.length;
  }

  submit(item: I, signal?: AbortSignal): Promise<O> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    try {
      this.options.validate?.(item);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<O>((resolve, reject) => {
      const entry: Waiting<I, O> = { item, resolve, reject, signal };
      if (this.options.windowMs === 0 || this.options.maxBatch === 1) {
        this.send([entry]);
        return;
      }
      if (signal) {
        entry.onAbort = () => this.withdraw(entry);
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.open.push(entry);
      if (this.open.length >= this.options.maxBatch) this.flush();
      else if (this.open.length === 1)
        this.timer = this.clock.set(() => this.flush(), this.options.windowMs);
    });
  }

  /** Hands the open batch to `run` now (the window's end, a full batch, or a caller in a hurry). */
  flush(): void {
    if (this.timer !== null) {
      this.clock.clear(this.timer);
      this.timer = null;
    }
    if (this.open.length === 0) return;
    const batch = this.open;
    this.open = [];
    for (const entry of batch) {
      if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
    }
    this.send(batch);
  }

  private withdraw(entry: Waiting<I, O>): void {
    const at = this.open.indexOf(entry);
    if (at < 0) return;
    this.open.splice(at, 1);
    if (this.open.length === 0 && this.timer !== null) {
      this.clock.clear(this.timer);
      this.timer = null;
    }
    entry.reject(abortReason(entry.signal as AbortSignal));
  }

  private send(batch: Waiting<I, O>[]): void {
    this.options.onBatch?.(batch.length);
    this.runChecked(batch.map((entry) => entry.item)).then(
      (outputs) => batch.forEach((entry, i) => entry.resolve(outputs[i])),
      (error: unknown) => {
        if (batch.length === 1) batch[0].reject(error);
        else void this.isolate(batch);
      },
    );
  }

  /** After a batch failed: each item alone, in turn, so that one bad item fails only itself. */
  private async isolate(batch: Waiting<I, O>[]): Promise<void> {
    for (const entry of batch) {
      this.options.onBatch?.(1);
      try {
        const [output] = await this.runChecked([entry.item]);
        entry.resolve(output);
      } catch (error) {
        entry.reject(error);
      }
    }
  }

  private async runChecked(items: I[]): Promise<O[]> {
    const outputs = await this.options.run(items);
    if (outputs.length !== items.length)
      throw new Error(`batch of ${items.length} items gave ${outputs.length} outputs`);
    return outputs;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error ? signal.reason : new BatchItemAbortedError();
}
