import 'reflect-metadata';
import { HttpException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import {
  SkipThrottle,
  Throttle,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { SlidingWindowThrottlerStorage } from './sliding-window-throttler.storage';
import { RateLimitGuard } from './throttler.guard';

class Plain {
  open() {}
  @SkipThrottle()
  skipped() {}
  @Throttle({ default: { limit: 2, ttl: 1_000 } })
  tight() {}
  @Throttle({ burst: { limit: () => 1, ttl: () => 400, blockDuration: 1_500 } })
  resolved() {}
}

@SkipThrottle()
class Skipped {
  inherited() {}
  @SkipThrottle({ default: false })
  unskipped() {}
}

const ROUTES: [new () => object, string][] = [
  [Plain, 'open'],
  [Plain, 'skipped'],
  [Plain, 'tight'],
  [Plain, 'resolved'],
  [Skipped, 'inherited'],
  [Skipped, 'unskipped'],
];

const OPTIONS: ThrottlerModuleOptions = {
  throttlers: [
    { name: 'default', ttl: 1_000, limit: 5 },
    { name: 'burst', ttl: 300, limit: 3, blockDuration: 800 },
  ],
};

/** What one guard answered for one request: pass or the error, and the headers it set. */
async function outcome(guard: ThrottlerGuard, route: [new () => object, string], ip: string) {
  const [controller, method] = route;
  const headers: Record<string, unknown> = {};
  const req = { ip, headers: {} };
  const res = { header: (name: string, value: unknown) => (headers[name] = value) };
  const handler = (controller.prototype as Record<string, () => void>)[method];
  const context = new ExecutionContextHost([req, res], controller, handler);
  context.setType('http');
  try {
    return { passed: await guard.canActivate(context), headers };
  } catch (error) {
    const http = error as HttpException;
    return { status: http.getStatus(), message: http.message, headers };
  }
}

async function guard<T extends ThrottlerGuard>(
  type: new (o: ThrottlerModuleOptions, s: ThrottlerStorage, r: Reflector) => T,
): Promise<T> {
  const made = new type(OPTIONS, new SlidingWindowThrottlerStorage(), new Reflector());
  await made.onModuleInit();
  return made;
}

describe('RateLimitGuard', () => {
  afterEach(() => jest.useRealTimers());

  it('answers every request as the stock ThrottlerGuard does (skips, per-route and resolved limits, blocks)', async () => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
    const stock = await guard(ThrottlerGuard);
    const ours = await guard(RateLimitGuard);
    let state = 7;
    const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      jest.advanceTimersByTime(Math.floor(random() ** 2 * 200));
      const route = ROUTES[Math.floor(random() * ROUTES.length)];
      const ip = random() < 0.8 ? '10.0.0.1' : '10.0.0.2';
      const expected = await outcome(stock, route, ip);
      expect(await outcome(ours, route, ip)).toEqual(expected);
      seen.add('status' in expected ? `${expected.status}` : `passed:${expected.passed}`);
    }
    // The sequence did pass requests and block others.
    expect(seen).toEqual(new Set(['passed:true', '429']));
  });

  it('calls settings given as functions on every request', async () => {
    const limit = jest.fn(() => 1);
    class Dynamic {
      @Throttle({ default: { limit, ttl: 60_000 } })
      route() {}
    }
    const ours = await guard(RateLimitGuard);
    expect(await outcome(ours, [Dynamic, 'route'], '10.0.0.3')).toMatchObject({ passed: true });
    expect(await outcome(ours, [Dynamic, 'route'], '10.0.0.3')).toMatchObject({ status: 429 });
    expect(limit).toHaveBeenCalledTimes(2);
  });
});
