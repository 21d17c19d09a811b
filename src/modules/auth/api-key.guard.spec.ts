import 'reflect-metadata';
import { HttpException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { ApiKeysService } from '../api-keys/api-keys.service';
import { ApiKeyGuard } from './api-key.guard';
import { Public, Roles } from '../../common/auth.decorators';
import type { AuthenticatedKey } from '../../common/roles';

@Roles('security')
class Secured {
  guarded() {}
  @Public()
  open() {}
  @Roles('search')
  searchable() {}
}

class Unmarked {
  any() {}
}

const KEYS: Record<string, AuthenticatedKey> = {
  s: { id: '1', name: 'search key', role: 'search' },
  x: { id: '2', name: 'security key', role: 'security' },
};
const apiKeys = { authenticate: async (key: string) => KEYS[key] ?? null };

async function answer(
  guard: ApiKeyGuard,
  controller: new () => object,
  method: string,
  key?: string,
) {
  const request: { headers: Record<string, string>; apiKey?: AuthenticatedKey } = {
    headers: key ? { 'x-api-key': key } : {},
  };
  const handler = (controller.prototype as Record<string, () => void>)[method];
  const context = new ExecutionContextHost([request, {}], controller, handler);
  try {
    return { passed: await guard.canActivate(context), as: request.apiKey?.role };
  } catch (error) {
    return { status: (error as HttpException).getStatus() };
  }
}

describe('ApiKeyGuard', () => {
  it("applies each route's own @Public and @Roles, however often and in whatever order routes are hit", async () => {
    const guard = new ApiKeyGuard(new Reflector(), apiKeys as unknown as ApiKeysService);
    const cases: [new () => object, string, string | undefined, object][] = [
      [Secured, 'guarded', 's', { status: 403 }],
      [Secured, 'guarded', 'x', { passed: true, as: 'security' }],
      [Secured, 'open', undefined, { passed: true, as: undefined }],
      [Secured, 'searchable', 's', { passed: true, as: 'search' }],
      [Secured, 'searchable', 'x', { status: 403 }],
      [Secured, 'guarded', undefined, { status: 401 }],
      [Unmarked, 'any', 's', { passed: true, as: 'search' }],
      [Unmarked, 'any', 'nope', { status: 401 }],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [controller, method, key, expected] of cases) {
        expect(await answer(guard, controller, method, key)).toEqual(expected);
      }
    }
  });
});
