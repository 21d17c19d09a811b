import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { EmbeddingRow } from './embedding.entity';

export interface StoredEmbedding {
  itemId: string;
  vector: number[];
}

export interface CatalogRow {
  label: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date | null;
}

/** Embeddings per model: what every HNSW index is built (and rebuilt) from. */
@Injectable()
export class EmbeddingsRepository {
  constructor(@InjectRepository(EmbeddingRow) private readonly repo: Repository<EmbeddingRow>) {}

  async countForModel(modelId: string): Promise<number> {
    const rows: { n: string | number }[] = await this.repo.query(
      'SELECT count(*) AS n FROM embeddings WHERE model_id = $1',
      [modelId],
    );
    return Number(rows[0].n);
  }

  async itemIdsForModel(modelId: string): Promise<string[]> {
    const rows: { item_id: string }[] = await this.repo.query(
      'SELECT item_id FROM embeddings WHERE model_id = $1',
      [modelId],
    );
    return rows.map((row) => row.item_id);
  }

  /** One page of a model's embeddings in item id order, after `afterItemId` (keyset paging). */
  async pageForModel(
    modelId: string,
    afterItemId: string | null,
    limit: number,
  ): Promise<StoredEmbedding[]> {
    const rows: { item_id: string; vector: number[] }[] = await this.repo.query(
      `SELECT item_id, vector FROM embeddings
       WHERE model_id = $1 AND ($2::uuid IS NULL OR item_id > $2::uuid)
       ORDER BY item_id LIMIT $3`,
      [modelId, afterItemId, limit],
    );
    return rows.map((row) => ({ itemId: row.item_id, vector: row.vector.map(Number) }));
  }

  async vectorsFor(modelId: string, itemIds: string[]): Promise<StoredEmbedding[]> {
    if (itemIds.length === 0) return [];
    const rows: { item_id: string; vector: number[] }[] = await this.repo.query(
      'SELECT item_id, vector FROM embeddings WHERE model_id = $1 AND item_id = ANY($2::uuid[])',
      [modelId, itemIds],
    );
    return rows.map((row) => ({ itemId: row.item_id, vector: row.vector.map(Number) }));
  }

  /** Stores embeddings of existing items (re-embedding for a deploy); items deleted meanwhile are skipped. */
  async upsertMany(modelId: string, embeddings: StoredEmbedding[]): Promise<void> {
    if (embeddings.length === 0) return;
    await this.repo.query(
      `INSERT INTO embeddings (model_id, item_id, vector)
       SELECT $1, e.item_id, e.vector::real[]
       FROM json_to_recordset($2::json) AS e(item_id uuid, vector real[])
       JOIN gallery_items g ON g.id = e.item_id
       ON CONFLICT (model_id, item_id) DO UPDATE SET vector = EXCLUDED.vector`,
      [modelId, JSON.stringify(embeddings.map((e) => ({ item_id: e.itemId, vector: e.vector })))],
    );
  }

  /** Gallery items that have no embedding under this model yet (a deploy's remaining work), by id. */
  async itemsWithoutEmbedding(
    modelId: string,
    limit: number,
  ): Promise<{ id: string; contentSha256: string }[]> {
    const rows: { id: string; content_sha256: string }[] = await this.repo.query(
      `SELECT g.id, g.content_sha256 FROM gallery_items g
       WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = $1 AND e.item_id = g.id)
       ORDER BY g.id LIMIT $2`,
      [modelId, limit],
    );
    return rows.map((row) => ({ id: row.id, contentSha256: row.content_sha256 }));
  }

  /**
   * Items (with label and metadata) whose embedding under this model exists and whose row comes after
   * (since, afterId) in (created_at, id) order, oldest first: what other replicas ingested lately.
   */
  async createdSince(
    modelId: string,
    since: Date,
    afterId: string,
    limit: number,
  ): Promise<(StoredEmbedding & CatalogRow)[]> {
    const rows: {
      item_id: string;
      vector: number[];
      label: string | null;
      metadata: Record<string, unknown>;
      created_at: Date | string;
    }[] = await this.repo.query(
      `SELECT g.id AS item_id, e.vector, g.label, g.metadata, g.created_at
       FROM gallery_items g JOIN embeddings e ON e.item_id = g.id AND e.model_id = $1
       WHERE (g.created_at, g.id) > ($2::timestamptz, $3::uuid)
       ORDER BY g.created_at, g.id LIMIT $4`,
      [modelId, since, afterId, limit],
    );
    return rows.map((row) => ({
      itemId: row.item_id,
      vector: row.vector.map(Number),
      label: row.label,
      metadata: row.metadata,
      createdAt: new Date(row.created_at),
    }));
  }

  /** Label and metadata of these items (those that still exist). */
  async catalogRowsFor(itemIds: string[]): Promise<(CatalogRow & { itemId: string })[]> {
    if (itemIds.length === 0) return [];
    const rows: { id: string; label: string | null; metadata: Record<string, unknown> }[] =
      await this.repo.query(
        'SELECT id, label, metadata FROM gallery_items WHERE id = ANY($1::uuid[])',
        [itemIds],
      );
    return rows.map((row) => ({
      itemId: row.id,
      label: row.label,
      metadata: row.metadata,
      createdAt: null,
    }));
  }

  /** The database's clock, so a high-water mark never depends on this machine's clock. */
  async now(): Promise<Date> {
    const rows: { now: Date | string }[] = await this.repo.query('SELECT now() AS now');
    return new Date(rows[0].now);
  }

  async deleteForModel(modelId: string): Promise<void> {
    await this.repo.query('DELETE FROM embeddings WHERE model_id = $1', [modelId]);
  }
}
