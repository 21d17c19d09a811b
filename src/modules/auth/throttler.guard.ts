import { ExecutionContext, Injectable } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import {
  ThrottlerGuard,
  type Resolvable,
  type ThrottlerGenerateKeyFunction,
  type ThrottlerGetTrackerFunction,
  type ThrottlerLimitDetail,
  type ThrottlerOptions,
} from '@nestjs/throttler';
import {
  THROTTLER_BLOCK_DURATION,
  THROTTLER_KEY_GENERATOR,
  THROTTLER_LIMIT,
  THROTTLER_SKIP,
  THROTTLER_TRACKER,
  THROTTLER_TTL,
} from '@nestjs/throttler/dist/throttler.constants';
import { RouteMemo } from './route-memo';

/**
 * The message of a 429 (the `errorMessage` of the throttler options): when the client may try again,
 * in the seconds that the Retry-After header gives too.
 */
export function tooManyRequestsMessage(
  _context: ExecutionContext,
  detail: ThrottlerLimitDetail,
): string {
  return `Too many requests, retry in ${detail.timeToBlockExpire} s`;
}

/** One throttler's settings for one route, as the decorators (@Throttle, @SkipThrottle) left them. */
interface RoutePlan {
  throttler: ThrottlerOptions & { name: string };
  skip: boolean;
  limit: Resolvable<number>;
  ttl: Resolvable<number>;
  /** Undefined: the resolved ttl, as in the stock guard. */
  blockDuration: Resolvable<number> | undefined;
  getTracker: ThrottlerGetTrackerFunction;
  generateKey: ThrottlerGenerateKeyFunction;
}

/**
 * @nestjs/throttler's guard, with two per-request costs taken out and its answers unchanged
 * (throttler.guard.spec.ts replays requests against the stock guard):
 * - the storage key is plain text: the stock guard hashes "<controller>-<handler>-<throttler>-<client
 *   ip>" with SHA-256 on every request only to shorten a key that is short already;
 * - the route's settings (six reflector look-ups per throttler and request in the stock guard) are
 *   read once per route: decorator metadata does not change after the class is defined. Settings
 *   given as functions are still called on every request.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly plans = new RouteMemo<RoutePlan[]>((handler, classRef) =>
    this.throttlers.map((throttler) => this.plan(throttler, [handler, classRef])),
  );

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (await this.shouldSkip(context)) return true;
    let allowed = true;
    for (const plan of this.plans.get(context)) {
      const { throttler } = plan;
      const skipIf = throttler.skipIf || this.commonOptions.skipIf;
      if (plan.skip || skipIf?.(context)) continue;
      const limit = await resolveNumber(context, plan.limit, 'limit', throttler.name);
      const ttl = await resolveNumber(context, plan.ttl, 'ttl', throttler.name);
      const blockDuration =
        plan.blockDuration === undefined
          ? ttl
          : await resolveNumber(context, plan.blockDuration, 'blockDuration', throttler.name);
      const passed = await this.handleRequest({
        context,
        limit,
        ttl,
        throttler,
        blockDuration,
        getTracker: plan.getTracker,
        generateKey: plan.generateKey,
      });
      if (!passed) allowed = false;
    }
    return allowed;
  }

  protected override generateKey(context: ExecutionContext, suffix: string, name: string): string {
    return `${context.getClass().name}-${context.getHandler().name}-${name}-${suffix}`;
  }

  private plan(
    throttler: ThrottlerOptions,
    targets: Parameters<Reflector['getAllAndOverride']>[1],
  ): RoutePlan {
    const name = throttler.name ?? 'default';
    const read = <T>(key: string) =>
      this.reflector.getAllAndOverride<T | undefined>(key + name, targets);
    const blockDuration =
      read<Resolvable<number>>(THROTTLER_BLOCK_DURATION) ?? throttler.blockDuration;
    return {
      throttler: { ...throttler, name },
      skip: Boolean(read<boolean>(THROTTLER_SKIP)),
      limit: read<Resolvable<number>>(THROTTLER_LIMIT) ?? throttler.limit,
      ttl: read<Resolvable<number>>(THROTTLER_TTL) ?? throttler.ttl,
      blockDuration,
      getTracker:
        read<ThrottlerGetTrackerFunction>(THROTTLER_TRACKER) ||
        throttler.getTracker ||
        (this.commonOptions.getTracker as ThrottlerGetTrackerFunction),
      generateKey:
        read<ThrottlerGenerateKeyFunction>(THROTTLER_KEY_GENERATOR) ||
        throttler.generateKey ||
        (this.commonOptions.generateKey as ThrottlerGenerateKeyFunction),
    };
  }
}

/** The stock guard's resolveValue + toNumber: a function is called per request; "10" counts as 10. */
async function resolveNumber(
  context: ExecutionContext,
  value: Resolvable<number>,
  option: string,
  throttlerName: string,
): Promise<number> {
  const resolved: unknown = typeof value === 'function' ? await value(context) : value;
  const number =
    typeof resolved === 'string' && resolved.trim() !== '' ? Number(resolved) : resolved;
  if (typeof number !== 'number' || Number.isNaN(number)) {
    throw new Error(
      `Invalid "${option}" for the "${throttlerName}" throttler: expected a number, got ${JSON.stringify(resolved)}.`,
    );
  }
  return number;
}
