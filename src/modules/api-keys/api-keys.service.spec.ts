import { ApiKeyCache } from './api-key-cache';
import { ApiKey } from './api-key.entity';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService, hashApiKey } from './api-keys.service';

/** The repository's rows in memory, counting lookups; `revokeElsewhere` plays another process. */
class FakeRepository {
  readonly rows: ApiKey[] = [];
  lookups = 0;
  /** When set, findActiveByHash waits for this before answering (a lookup in flight). */
  hold: Promise<void> | null = null;

  async findActiveByHash(keyHash: string): Promise<ApiKey | null> {
    this.lookups++;
    const row = this.rows.find((r) => r.keyHash === keyHash && r.revokedAt === null) ?? null;
    if (this.hold) await this.hold;
    return row;
  }

  async insert(key: ApiKey): Promise<ApiKey> {
    this.rows.push(key);
    return key;
  }

  async revoke(id: string): Promise<boolean> {
    return this.revokeElsewhere(id);
  }

  revokeElsewhere(id: string): boolean {
    const row = this.rows.find((r) => r.id === id && r.revokedAt === null);
    if (!row) return false;
    row.revokedAt = new Date();
    return true;
  }
}

function setup(ttlMs = 5_000) {
  const repo = new FakeRepository();
  let now = 1_000_000;
  const cache = new ApiKeyCache(ttlMs, 3, () => now);
  const service = new ApiKeysService(repo as unknown as ApiKeysRepository, cache);
  return { repo, cache, service, advance: (ms: number) => (now += ms) };
}

describe('ApiKeysService key cache', () => {
  it('looks a valid key up in the database once per TTL', async () => {
    const { repo, service, advance } = setup();
    const { key, id } = await service.create('a', 'search');
    for (let i = 0; i < 5; i++)
      expect(await service.authenticate(key)).toEqual({ id, name: 'a', role: 'search' });
    expect(repo.lookups).toBe(1);
    advance(5_000);
    expect(await service.authenticate(key)).toEqual({ id, name: 'a', role: 'search' });
    expect(repo.lookups).toBe(2);
  });

  it('never caches unknown keys', async () => {
    const { repo, service, cache } = setup();
    expect(await service.authenticate('rir_unknown')).toBeNull();
    expect(await service.authenticate('rir_unknown')).toBeNull();
    expect(repo.lookups).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('a key revoked through this process stops working at once', async () => {
    const { service } = setup();
    const { key, id } = await service.create('a', 'admin');
    expect(await service.authenticate(key)).not.toBeNull();
    await service.revoke(id);
    expect(await service.authenticate(key)).toBeNull();
  });

  it('a key revoked by another process stops working once the TTL has passed', async () => {
    const { repo, service, advance } = setup(5_000);
    const { key, id } = await service.create('a', 'search');
    expect(await service.authenticate(key)).not.toBeNull();
    expect(repo.revokeElsewhere(id)).toBe(true);
    advance(4_999);
    // Within the documented staleness bound the cached identity is still served...
    expect(await service.authenticate(key)).not.toBeNull();
    advance(1);
    // ...and not a moment after it.
    expect(await service.authenticate(key)).toBeNull();
  });

  it('a lookup in flight while the key is revoked does not re-cache it', async () => {
    const { repo, service, cache } = setup();
    const { key, id } = await service.create('a', 'search');
    let release = () => undefined as void;
    repo.hold = new Promise<void>((resolve) => (release = resolve));
    const inFlight = service.authenticate(key); // read the row before the revoke
    await service.revoke(id);
    release();
    repo.hold = null;
    await inFlight;
    expect(cache.size).toBe(0);
    expect(await service.authenticate(key)).toBeNull();
  });

  it('keeps at most maxEntries keys, dropping the oldest', async () => {
    const { repo, service, cache } = setup();
    const keys = [];
    for (let i = 0; i < 4; i++) keys.push((await service.create(`k${i}`, 'search')).key);
    for (const key of keys) await service.authenticate(key);
    expect(cache.size).toBe(3);
    expect(cache.get(hashApiKey(keys[0]))).toBeUndefined();
    expect(cache.get(hashApiKey(keys[3]))).toBeDefined();
    expect(repo.lookups).toBe(4);
  });

  it('caches nothing with a TTL of 0', async () => {
    const { repo, service } = setup(0);
    const { key } = await service.create('a', 'search');
    await service.authenticate(key);
    await service.authenticate(key);
    expect(repo.lookups).toBe(2);
  });
});
