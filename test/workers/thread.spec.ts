import * as os from 'os';
import * as path from 'path';
import {
  runThread,
  ThreadCancelledError,
  workerEntry,
  type RunThreadOptions,
} from '../../src/workers/thread';
import type { FixtureInput, FixtureProgress } from './fixtures/thread-fixture.worker';

const ENTRY = workerEntry(path.join(__dirname, 'fixtures'), 'thread-fixture.worker');

function run<R>(input: FixtureInput, options: RunThreadOptions<FixtureProgress> = {}): Promise<R> {
  return runThread<R, FixtureProgress>(ENTRY, input, options);
}

/** Aborts `controller` on the thread's first progress message (it is then inside its work). */
function abortWhenWaiting(controller: AbortController): (progress: FixtureProgress) => void {
  return (progress) => {
    if (progress === 'waiting') controller.abort();
  };
}

describe('runThread', () => {
  it('resolves the entry as a .ts source here, starts it with its data and returns the result', async () => {
    expect(path.extname(ENTRY)).toBe('.ts');
    await expect(run<number>({ mode: 'sum', values: [1, 2, 39] })).resolves.toBe(42);
  });

  it('delivers progress messages in order, all before the result', async () => {
    const seen: FixtureProgress[] = [];
    const result = await run<string>(
      { mode: 'progress', count: 50 },
      { onProgress: (p) => seen.push(p) },
    );
    expect(result).toBe('done');
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => ({ step: i + 1 })));
  });

  it('cancels cooperatively: the thread sees its signal abort and answers with what it has', async () => {
    const controller = new AbortController();
    const result = await run(
      { mode: 'await-signal' },
      { signal: controller.signal, onProgress: abortWhenWaiting(controller) },
    );
    expect(result).toEqual({ stopped: 'signal', cancelled: true });
  });

  it('cancels a thread busy in a synchronous loop through the shared flag', async () => {
    const controller = new AbortController();
    const result = await run<{ stopped: string; spins: number }>(
      { mode: 'poll-flag' },
      { signal: controller.signal, onProgress: abortWhenWaiting(controller) },
    );
    expect(result.stopped).toBe('flag');
    expect(result.spins).toBeGreaterThanOrEqual(1000);
  });

  it('terminates a thread that ignores the cancel once the grace period is over', async () => {
    const controller = new AbortController();
    const run1 = run(
      { mode: 'block' },
      { signal: controller.signal, graceMs: 50, onProgress: abortWhenWaiting(controller) },
    );
    await expect(run1).rejects.toBeInstanceOf(ThreadCancelledError);
    await expect(run1).rejects.toThrow('cancelled: the worker thread was stopped');
  });

  it('starts cancelled when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await run({ mode: 'await-signal' }, { signal: controller.signal });
    expect(result).toEqual({ stopped: 'signal', cancelled: true });
  });

  it("rejects with the worker's error: its name, message and stack", async () => {
    const error = await run({ mode: 'throw', message: 'no such data set: x' }).catch(
      (e: unknown) => e,
    );
    if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
    expect(error).toMatchObject({ name: 'RangeError', message: 'no such data set: x' });
    expect(error.stack).toContain('thread-fixture.worker');
  });

  it('rejects when the thread exits without answering', async () => {
    await expect(run({ mode: 'exit', code: 3 })).rejects.toThrow(
      'worker thread exited with code 3 before answering',
    );
  });

  const linux = process.platform === 'linux' ? it : it.skip;

  linux('runs the thread at the nice value asked and leaves the caller alone', async () => {
    const before = os.getPriority();
    const result = await run<{ nice: number }>({ mode: 'nice' }, { nice: 7 });
    expect(result.nice).toBe(Math.max(7, before));
    expect(os.getPriority()).toBe(before);
  });

  it("keeps the caller's priority when no nice value is given", async () => {
    const result = await run<{ nice: number }>({ mode: 'nice' });
    expect(result.nice).toBe(os.getPriority());
  });
});
