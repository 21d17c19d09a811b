import { Module, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ApiKeyGuard } from './api-key.guard';
import { RateLimitGuard } from './throttler.guard';

/**
 * The app's global guards, in the order they run: the rate limit first (so floods of bad keys are
 * limited too), then the API key check. Routes served outside Nest's router (see
 * src/modules/search/search-by-id.route.ts) run these same instances in this same order.
 */
export const GLOBAL_GUARDS: readonly Type<RateLimitGuard | ApiKeyGuard>[] = [
  RateLimitGuard,
  ApiKeyGuard,
];

@Module({
  imports: [ApiKeysModule],
  providers: [
    ...GLOBAL_GUARDS,
    // useExisting: Nest applies the very instances that app.get(RateLimitGuard) returns.
    ...GLOBAL_GUARDS.map((guard) => ({ provide: APP_GUARD, useExisting: guard })),
  ],
  exports: [...GLOBAL_GUARDS],
})
export class AuthModule {}
