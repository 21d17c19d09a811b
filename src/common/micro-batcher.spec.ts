import { BatchTimer, MicroBatcher } from './micro-batcher';

/** A timer the test fires by hand: the batcher's only notion of time. */
class ManualTimer implements BatchTimer {
  pending: { callback: () => void; ms: number } | null = null;
  sets = 0;
  set(callback: () => void, ms: number): unknown {
    this.sets++;
    this.pending = { callback, ms };
    return this.pending;
  }
  clear(handle: unknown): void {
    if (this.pending === handle) this.pending = null;
  }
  fire(): void {
    const due = this.pending;
    this.pending = null;
    due?.callback();
  }
}

/** Lets promise callbacks that are already due run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Records every batch handed to `run`; doubles each number, refuses negative ones. */
function recorder() {
  const batches: number[][] = [];
  const run = async (items: number[]) => {
    batches.push([...items]);
    if (items.some((x) => x < 0)) throw new Error(`negative item in ${items.join(',')}`);
    return items.map((x) => x * 2);
  };
  return { batches, run };
}

describe('MicroBatcher', () => {
  it('holds a lone item for the window, then runs it alone', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const sizes: number[] = [];
    const batcher = new MicroBatcher({
      windowMs: 3,
      maxBatch: 8,
      run,
      timer,
      onBatch: (n) => sizes.push(n),
    });
    const result = batcher.submit(5);
    await settle();
    expect(batches).toEqual([]);
    expect(batcher.waiting).toBe(1);
    expect(timer.pending?.ms).toBe(3);
    timer.fire();
    await expect(result).resolves.toBe(10);
    expect(batches).toEqual([[5]]);
    expect(sizes).toEqual([1]);
  });

  it('bounds the wait with fake timers: not before the window ends, at once when it does', async () => {
    jest.useFakeTimers();
    try {
      const { batches, run } = recorder();
      const batcher = new MicroBatcher({ windowMs: 2, maxBatch: 8, run });
      const result = batcher.submit(1);
      jest.advanceTimersByTime(1);
      expect(batches).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(batches).toEqual([[1]]);
      await expect(result).resolves.toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('puts the items of one window in one batch and gives each caller its own output', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({ windowMs: 2, maxBatch: 8, run, timer });
    const results = [3, 1, 4, 1, 5].map((x) => batcher.submit(x));
    expect(timer.sets).toBe(1); // the first item opened the window; the others joined it
    timer.fire();
    await expect(Promise.all(results)).resolves.toEqual([6, 2, 8, 2, 10]);
    expect(batches).toEqual([[3, 1, 4, 1, 5]]);
  });

  it('runs a full batch at once, without waiting for the window, and opens a new window after it', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({ windowMs: 1000, maxBatch: 3, run, timer });
    const full = [1, 2, 3].map((x) => batcher.submit(x));
    await expect(Promise.all(full)).resolves.toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(timer.pending).toBeNull(); // the full batch cancelled its window
    const next = batcher.submit(4);
    expect(timer.pending?.ms).toBe(1000);
    timer.fire();
    await expect(next).resolves.toBe(8);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('with a window of 0 runs every item alone, at once', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({ windowMs: 0, maxBatch: 32, run, timer });
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).resolves.toEqual([2, 4]);
    expect(batches).toEqual([[1], [2]]);
    expect(timer.sets).toBe(0);
  });

  it('fails only the bad item when a batch fails: the others are run again alone', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const sizes: number[] = [];
    const batcher = new MicroBatcher({
      windowMs: 2,
      maxBatch: 8,
      run,
      timer,
      onBatch: (n) => sizes.push(n),
    });
    const results = [1, -1, 2].map((x) => batcher.submit(x));
    timer.fire();
    const settled = await Promise.allSettled(results);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(settled[1]).toMatchObject({
      status: 'rejected',
      reason: { message: 'negative item in -1' },
    });
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 4 });
    expect(batches).toEqual([[1, -1, 2], [1], [-1], [2]]);
    expect(sizes).toEqual([3, 1, 1, 1]);
  });

  it('refuses an item that fails validation before it joins a batch', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({
      windowMs: 2,
      maxBatch: 8,
      run,
      timer,
      validate: (x: number) => {
        if (!Number.isInteger(x)) throw new Error(`${x} is not an integer`);
      },
    });
    const good = batcher.submit(7);
    await expect(batcher.submit(0.5)).rejects.toThrow('0.5 is not an integer');
    expect(batcher.waiting).toBe(1);
    timer.fire();
    await expect(good).resolves.toBe(14);
    expect(batches).toEqual([[7]]);
  });

  it('rejects every item of a batch whose run returns the wrong number of outputs', async () => {
    const timer = new ManualTimer();
    const batcher = new MicroBatcher({
      windowMs: 2,
      maxBatch: 8,
      run: async () => [] as number[],
      timer,
    });
    const results = [1, 2].map((x) => batcher.submit(x));
    timer.fire();
    for (const result of await Promise.allSettled(results))
      expect(result).toMatchObject({
        status: 'rejected',
        reason: { message: 'batch of 1 items gave 0 outputs' },
      });
  });

  it('takes a cancelled item out of its waiting batch; once sent, an item settles with its batch', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({ windowMs: 2, maxBatch: 8, run, timer });
    const gone = new AbortController();
    const stays = batcher.submit(1);
    const leaves = batcher.submit(2, gone.signal);
    gone.abort();
    await expect(leaves).rejects.toMatchObject({ name: 'AbortError' });
    expect(batcher.waiting).toBe(1);
    timer.fire();
    await expect(stays).resolves.toBe(2);
    expect(batches).toEqual([[1]]);

    // Aborted after its batch left: the work is done, the caller gets its output.
    const late = new AbortController();
    const sent = batcher.submit(3, late.signal);
    timer.fire();
    late.abort();
    await expect(sent).resolves.toBe(6);
    // Already aborted: never queued.
    await expect(batcher.submit(4, late.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(batches).toEqual([[1], [3]]);
  });

  it('closes the window when its only item is cancelled', async () => {
    const timer = new ManualTimer();
    const { batches, run } = recorder();
    const batcher = new MicroBatcher({ windowMs: 2, maxBatch: 8, run, timer });
    const gone = new AbortController();
    const result = batcher.submit(1, gone.signal);
    gone.abort(new Error('client left'));
    await expect(result).rejects.toThrow('client left');
    expect(timer.pending).toBeNull();
    expect(batches).toEqual([]);
  });

  it('refuses nonsense settings', () => {
    const { run } = recorder();
    expect(() => new MicroBatcher({ windowMs: -1, maxBatch: 8, run })).toThrow('windowMs');
    expect(() => new MicroBatcher({ windowMs: 1, maxBatch: 0, run })).toThrow('maxBatch');
  });
});
