import { createHash, randomBytes, randomUUID } from 'crypto';
import { Inject, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import type { AuthenticatedKey, Role } from '../auth/roles';
import { API_KEY_CACHE, ApiKeyCache } from './api-key-cache';
import { ApiKey } from './api-key.entity';
import { ApiKeysRepository } from './api-keys.repository';

export interface CreatedApiKey {
  id: string;
  name: string;
  role: Role;
  /** The secret, shown only once. */
  key: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  /** Verified keys for a few seconds: the guard runs on every request (see ApiKeyCache). */
  readonly cache: ApiKeyCache;

  constructor(
    private readonly keys: ApiKeysRepository,
    @Optional() @Inject(API_KEY_CACHE) cache?: ApiKeyCache,
  ) {
    this.cache = cache ?? new ApiKeyCache();
  }

  /** Creates a key with 256 random bits; only its hash is stored. */
  async create(name: string, role: Role): Promise<CreatedApiKey> {
    const key = `rir_${randomBytes(32).toString('base64url')}`;
    const saved = await this.keys.insert(this.newRow(name, role, key, key.slice(0, 10)));
    return { id: saved.id, name: saved.name, role: saved.role, key };
  }

  /** The key's identity, or null when it is unknown or revoked. */
  async authenticate(key: string): Promise<AuthenticatedKey | null> {
    const keyHash = hashApiKey(key);
    const cached = this.cache.get(keyHash);
    if (cached) return cached;
    const generation = this.cache.generation;
    const row = await this.keys.findActiveByHash(keyHash);
    if (!row) return null;
    const identity: AuthenticatedKey = { id: row.id, name: row.name, role: row.role };
    this.cache.set(keyHash, identity, generation);
    return identity;
  }

  async list(): Promise<Omit<ApiKey, 'keyHash'>[]> {
    const rows = await this.keys.listActive();
    return rows.map(({ keyHash: _hash, ...rest }) => rest);
  }

  async revoke(id: string): Promise<void> {
    // Invalidated before and after the update: no lookup in flight across it can re-cache the key.
    this.cache.invalidateId(id);
    const revoked = await this.keys.revoke(id);
    this.cache.invalidateId(id);
    if (!revoked) throw new NotFoundException(`API key ${id} not found`);
  }

  /**
   * Registers ADMIN_API_KEY (hashed) unless it is known already. A revoked one stays revoked:
   * deleting a key over HTTP must not be undone by a restart.
   */
  async registerBootstrapAdminKey(key: string): Promise<void> {
    const existing = await this.keys.findByHash(hashApiKey(key));
    if (existing?.revokedAt) {
      this.logger.warn(`ADMIN_API_KEY was revoked (key id ${existing.id}); it is not accepted`);
      return;
    }
    if (existing) return;
    // Its prefix is not shown: a short, chosen secret could not spare any characters.
    await this.keys.insert(this.newRow('ADMIN_API_KEY', 'admin', key, 'env'));
    this.logger.log('Registered ADMIN_API_KEY as an admin key');
  }

  private newRow(name: string, role: Role, key: string, keyPrefix: string): ApiKey {
    const row = new ApiKey();
    row.id = randomUUID();
    row.name = name;
    row.role = role;
    row.keyPrefix = keyPrefix;
    row.keyHash = hashApiKey(key);
    row.revokedAt = null;
    return row;
  }
}
