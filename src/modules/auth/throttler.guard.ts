import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';

/**
 * @nestjs/throttler's guard, with the storage key in plain text: the stock guard hashes
 * "<controller>-<handler>-<throttler>-<client ip>" with SHA-256 on every request (~2% of the
 * server's CPU on search by id) only to shorten a key that is short already.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override generateKey(context: ExecutionContext, suffix: string, name: string): string {
    return `${context.getClass().name}-${context.getHandler().name}-${name}-${suffix}`;
  }
}
