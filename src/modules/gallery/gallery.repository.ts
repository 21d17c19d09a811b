import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { GalleryItem } from './gallery-item.entity';

export interface NewGalleryItem {
  id: string;
  label: string | null;
  metadata: Record<string, unknown>;
  contentSha256: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
}

export interface GalleryPage {
  items: GalleryItem[];
  total: number;
}

@Injectable()
export class GalleryRepository {
  constructor(@InjectRepository(GalleryItem) private readonly repo: Repository<GalleryItem>) {}

  findById(id: string): Promise<GalleryItem | null> {
    return this.repo.findOne({ where: { id } });
  }

  findByIds(ids: string[]): Promise<GalleryItem[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.repo.find({ where: { id: In(ids) } });
  }

  findByHash(contentSha256: string): Promise<GalleryItem | null> {
    return this.repo.findOne({ where: { contentSha256 } });
  }

  async list(page: number, size: number, label?: string): Promise<GalleryPage> {
    const [items, total] = await this.repo.findAndCount({
      where: label === undefined ? {} : { label },
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: (page - 1) * size,
      take: size,
    });
    return { items, total };
  }

  count(): Promise<number> {
    return this.repo.count();
  }

  /**
   * Inserts the item and its embedding under `modelId` in one statement (so atomically, without an
   * explicit transaction). Returns the creation time, or null when an item with the same content exists.
   */
  async insertWithEmbedding(
    item: NewGalleryItem,
    modelId: string,
    vector: number[],
  ): Promise<Date | null> {
    const rows: { id: string; created_at: Date }[] = await this.repo.query(
      `WITH item AS (
         INSERT INTO gallery_items (id, label, metadata, content_sha256, mime, width, height, bytes)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)
         ON CONFLICT (content_sha256) DO NOTHING
         RETURNING id, created_at
       ), embedding AS (
         INSERT INTO embeddings (model_id, item_id, vector)
         SELECT $9, id, $10::real[] FROM item
       )
       SELECT id, created_at FROM item`,
      [
        item.id,
        item.label,
        JSON.stringify(item.metadata),
        item.contentSha256,
        item.mime,
        item.width,
        item.height,
        item.bytes,
        modelId,
        vector,
      ],
    );
    return rows.length === 1 ? new Date(rows[0].created_at) : null;
  }

  /** Deletes the item (its embeddings go with it); returns the deleted row, or null. */
  async delete(id: string): Promise<GalleryItem | null> {
    const item = await this.findById(id);
    if (!item) return null;
    await this.repo.delete({ id });
    return item;
  }

  async catalogRows(): Promise<
    { id: string; label: string | null; metadata: Record<string, unknown> }[]
  > {
    return this.repo.query('SELECT id, label, metadata FROM gallery_items');
  }

  async allContentHashes(): Promise<Set<string>> {
    const rows: { content_sha256: string }[] = await this.repo.query(
      'SELECT content_sha256 FROM gallery_items',
    );
    return new Set(rows.map((row) => row.content_sha256));
  }
}
