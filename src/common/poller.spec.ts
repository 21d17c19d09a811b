import { Poller } from './poller';

describe('Poller', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs the task once per interval after the previous run settled, through errors, until stopped', async () => {
    const errors: string[] = [];
    let runs = 0;
    let release: () => void = () => undefined;
    const poller = new Poller(
      () => {
        runs++;
        if (runs === 2) return Promise.reject(new Error('look failed'));
        return new Promise<void>((resolve) => (release = resolve));
      },
      (error) => errors.push(error.message),
    );
    poller.start(1000);
    await jest.advanceTimersByTimeAsync(999);
    expect(runs).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    // The first run has not settled: no second run however long it takes.
    await jest.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(1);
    release();
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(2);
    expect(errors).toEqual(['look failed']);
    // An error does not stop the polling.
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(3);
    poller.stop();
    release();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(3);
  });
});
