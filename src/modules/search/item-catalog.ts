import { Injectable } from '@nestjs/common';

export interface CatalogEntry {
  label: string | null;
  metadata: Record<string, unknown>;
}

/**
 * Label and metadata of every gallery item, in memory: search results and label filters are served
 * without a database round trip per query. Loaded at start-up and kept current by the gallery service.
 */
@Injectable()
export class ItemCatalog {
  private readonly entries = new Map<string, CatalogEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(id: string): CatalogEntry | undefined {
    return this.entries.get(id);
  }

  set(id: string, entry: CatalogEntry): void {
    this.entries.set(id, entry);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  replaceAll(rows: Iterable<[string, CatalogEntry]>): void {
    this.entries.clear();
    for (const [id, entry] of rows) this.entries.set(id, entry);
  }
}
