import { ThrottlerStorageService } from '@nestjs/throttler';
import { SlidingWindowThrottlerStorage } from './sliding-window-throttler.storage';

/** A small deterministic generator, so the differential test replays the same sequence. */
function lcg(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 4294967296;
    return state / 4294967296;
  };
}

describe('SlidingWindowThrottlerStorage', () => {
  afterEach(() => jest.useRealTimers());

  it.each([
    ['blocking for the ttl', 1_000],
    ['without a block duration', 0],
  ])('answers exactly as the stock storage does (%s)', async (_name, blockDuration) => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
    const stock = new ThrottlerStorageService();
    const ours = new SlidingWindowThrottlerStorage();
    const random = lcg(42);
    const ttl = 1_000;
    const limit = 5;
    let blocked = 0;
    for (let i = 0; i < 3_000; i++) {
      // Bursts and pauses, two clients, so windows fill, block, expire and reset.
      jest.advanceTimersByTime(Math.floor(random() ** 3 * 700));
      const key = random() < 0.7 ? 'a' : 'b';
      const expected = await stock.increment(key, ttl, limit, blockDuration, 'default');
      const got = await ours.increment(key, ttl, limit, blockDuration, 'default');
      expect(got).toEqual(expected);
      if (got.isBlocked) blocked++;
    }
    // The sequence did exercise the limit.
    expect(blocked).toBeGreaterThan(100);
    stock.onApplicationShutdown();
    ours.onApplicationShutdown();
  });

  it('counts right in a window of 200,000 hits as it slides', () => {
    const ours = new SlidingWindowThrottlerStorage();
    const now = 1_700_000_000_000;
    // 200,000 hits 0.1 ms apart in one 60 s window; 10 s later the first 100,001 have expired.
    for (let i = 0; i < 200_000; i++) ours.hit('ip', 60_000, 1e9, 60_000, 'default', now + i / 10);
    const record = ours.hit('ip', 60_000, 1e9, 60_000, 'default', now + 60_000 + 10_000);
    expect(record.totalHits).toBe(100_000);
    expect(record.isBlocked).toBe(false);
    ours.onApplicationShutdown();
  });

  it('forgets idle clients when swept', () => {
    const ours = new SlidingWindowThrottlerStorage();
    ours.hit('a', 1_000, 10, 1_000, 'default', 0);
    ours.hit('b', 1_000, 10, 1_000, 'default', 900);
    ours.sweep(1_500);
    expect(ours.size).toBe(1);
    ours.sweep(2_000);
    expect(ours.size).toBe(0);
    ours.onApplicationShutdown();
  });
});
