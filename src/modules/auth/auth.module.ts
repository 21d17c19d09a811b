import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ApiKeyGuard } from './api-key.guard';
import { RateLimitGuard } from './throttler.guard';

/**
 * The app's global guards, in order: the rate limit first (so floods of bad keys are limited
 * too), then the API key check.
 */
@Module({
  imports: [ApiKeysModule],
  providers: [
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
})
export class AuthModule {}
