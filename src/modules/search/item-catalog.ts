import { Injectable } from '@nestjs/common';

export interface CatalogEntry {
  label: string | null;
  metadata: Record<string, unknown>;
}

/** Distinct labels whose entries are shared; past this many, entries are kept as given. */
const MAX_SHARED_LABELS = 10_000;

function isEmptyObject(value: Record<string, unknown>): boolean {
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _key in value) return false;
  return true;
}

/**
 * Label and metadata of every gallery item, in memory: search results and label filters are served
 * without a database round trip per query. Loaded at start-up and kept current by the gallery service.
 */
@Injectable()
export class ItemCatalog {
  private entries = new Map<string, CatalogEntry>();
  /**
   * One frozen entry per label for the items without metadata (most galleries): a search reads
   * the entry of each hit, and ten reads of a few shared objects stay in the cache where ten of
   * 70,000 separate ones each miss it. Entries are never changed in place (set replaces them).
   */
  private readonly shared = new Map<string | null, Readonly<CatalogEntry>>();

  get size(): number {
    return this.entries.size;
  }

  get(id: string): CatalogEntry | undefined {
    return this.entries.get(id);
  }

  set(id: string, entry: CatalogEntry): void {
    this.entries.set(id, this.canonical(entry));
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  /**
   * Keys the entries with these id strings, the serving index's own (VectorIndexService.swap): the
   * ids a search returns are then the very string objects the Map holds, and each lookup ends at a
   * pointer comparison instead of reading the stored key's characters, a memory access that misses
   * the cache after the graph walk. With 70,000 items that took a lookup from ~3.1 to ~1.8 µs, and
   * a search by id does ten (docs/benchmarks-archive.md, "Less CPU per search by id"). Entries not named keep their keys.
   */
  shareKeys(ids: Iterable<string>): void {
    const next = new Map<string, CatalogEntry>();
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry) next.set(id, entry);
    }
    for (const [id, entry] of this.entries) if (!next.has(id)) next.set(id, entry);
    this.entries = next;
  }

  replaceAll(rows: Iterable<[string, CatalogEntry]>): void {
    this.entries.clear();
    for (const [id, entry] of rows) this.entries.set(id, this.canonical(entry));
  }

  /** The shared entry for an item without metadata (see `shared`), else the entry as given. */
  private canonical(entry: CatalogEntry): CatalogEntry {
    if (!isEmptyObject(entry.metadata)) return entry;
    let shared = this.shared.get(entry.label);
    if (!shared) {
      if (this.shared.size >= MAX_SHARED_LABELS) return entry;
      shared = Object.freeze({ label: entry.label, metadata: Object.freeze({}) });
      this.shared.set(entry.label, shared);
    }
    return shared;
  }
}
