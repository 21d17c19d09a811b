import type { AuthenticatedKey } from '../../common/roles';

/**
 * How long a verified key is trusted without asking the database again. A key revoked through this
 * process is dropped at once; one revoked through another process (another replica, `rir keys`)
 * keeps working here for at most this long.
 */
export const API_KEY_CACHE_TTL_MS = 5_000;
/** Bound on cached keys, so a flood of distinct valid keys cannot grow memory without limit. */
export const API_KEY_CACHE_MAX_ENTRIES = 10_000;

/** Optional provider of the ApiKeysService's cache (tests pass one with their own clock). */
export const API_KEY_CACHE = Symbol('API_KEY_CACHE');

interface Entry {
  identity: AuthenticatedKey;
  expiresAt: number;
}

/**
 * Verified API keys by the SHA-256 of the key (the secret itself is never kept), for a short time.
 * Only known, active keys are cached: unknown keys always reach the database (and the rate limit).
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a lookup that started before one must not repopulate the cache. */
  private epoch = 0;

  constructor(
    readonly ttlMs = API_KEY_CACHE_TTL_MS,
    private readonly maxEntries = API_KEY_CACHE_MAX_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The current epoch; pass it back to set() so a stale lookup is not cached. */
  get generation(): number {
    return this.epoch;
  }

  get(keyHash: string): AuthenticatedKey | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.identity;
  }

  /** Caches a lookup that began at `generation`, unless an invalidation happened since. */
  set(keyHash: string, identity: AuthenticatedKey, generation: number): void {
    if (this.ttlMs <= 0 || generation !== this.epoch) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(keyHash)) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(keyHash, { identity, expiresAt: this.now() + this.ttlMs });
  }

  /** Drops every cached entry of a key id (revocation). */
  invalidateId(id: string): void {
    this.epoch++;
    for (const [hash, entry] of this.entries) {
      if (entry.identity.id === id) this.entries.delete(hash);
    }
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
  }
}
