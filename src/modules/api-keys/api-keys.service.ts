import { createHash, randomBytes, randomUUID } from 'crypto';
import { Inject, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config';
import type { AuthenticatedKey, Role } from '../../common/roles';
import { API_KEY_CACHE, ApiKeyCache } from './api-key-cache';
import { ApiKey } from './api-key.entity';
import { ApiKeysRepository } from './api-keys.repository';
import {
  INITIAL_ADMIN_KEY_NAME,
  readInitialAdminKeyFile,
  removeInitialAdminKeyFile,
} from './initial-admin-key';

export interface CreatedApiKey {
  id: string;
  name: string;
  role: Role;
  /** The secret, shown only once. */
  key: string;
}

function newKey(): string {
  return `rir_${randomBytes(32).toString('base64url')}`;
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
    /** Where DATA_DIR/initial-admin-key is (absent: the command line, which never revokes). */
    @Optional() @Inject(APP_CONFIG) private readonly config?: AppConfig,
  ) {
    this.cache = cache ?? new ApiKeyCache();
  }

  /** Creates a key with 256 random bits; only its hash is stored. */
  async create(name: string, role: Role): Promise<CreatedApiKey> {
    const key = newKey();
    const saved = await this.keys.insert(this.newRow(name, role, key, key.slice(0, 10)));
    return { id: saved.id, name: saved.name, role: saved.role, key };
  }

  /**
   * The first start's admin key: created (and returned, the only time its secret is known) when no
   * key has ever existed, revoked ones included; null otherwise.
   */
  async createInitialAdminKey(): Promise<CreatedApiKey | null> {
    const key = newKey();
    const row = this.newRow(INITIAL_ADMIN_KEY_NAME, 'admin', key, key.slice(0, 10));
    if (!(await this.keys.insertIfNone(row))) return null;
    return { id: row.id, name: row.name, role: row.role, key };
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
    await this.forgetInitialAdminKeyCopy(id);
  }

  /** Deletes DATA_DIR/initial-admin-key when it holds the key just revoked (rotation done). */
  private async forgetInitialAdminKeyCopy(revokedId: string): Promise<void> {
    if (!this.config) return;
    const copy = readInitialAdminKeyFile(this.config.dataDir);
    if (copy === undefined) return;
    const row = await this.keys.findByHash(hashApiKey(copy));
    if (row?.id !== revokedId) return;
    removeInitialAdminKeyFile(this.config.dataDir);
    this.logger.log(`Deleted the copy of the revoked initial admin key (key id ${revokedId})`);
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
