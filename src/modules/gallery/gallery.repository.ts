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

  findByHashes(hashes: string[]): Promise<GalleryItem[]> {
    return hashes.length === 0
      ? Promise.resolve([])
      : this.repo.find({ where: { contentSha256: In(hashes) } });
  }

  /**
   * Inserts items with their embeddings under `modelId` in one statement (so atomically, without an
   * explicit transaction). Items whose content already exists are skipped. Returns id -> created_at
   * of the inserted ones.
   */
  async insertManyWithEmbeddings(
    rows: { item: NewGalleryItem; vector: number[] }[],
    modelId: string,
  ): Promise<Map<string, Date>> {
    if (rows.length === 0) return new Map();
    const payload = rows.map(({ item, vector }) => ({
      id: item.id,
      label: item.label,
      metadata: item.metadata,
      content_sha256: item.contentSha256,
      mime: item.mime,
      width: item.width,
      height: item.height,
      bytes: item.bytes,
      vector,
    }));
    const inserted: { id: string; created_at: Date }[] = await this.repo.query(
      `WITH input AS (
         SELECT * FROM json_to_recordset($1::json) AS r(
           id uuid, label varchar, metadata jsonb, content_sha256 char(64), mime varchar,
           width integer, height integer, bytes integer, vector real[])
       ), item AS (
         INSERT INTO gallery_items (id, label, metadata, content_sha256, mime, width, height, bytes)
         SELECT id, label, COALESCE(metadata, '{}'::jsonb), content_sha256, mime, width, height, bytes FROM input
         ON CONFLICT (content_sha256) DO NOTHING
         RETURNING id, created_at
       ), embedding AS (
         INSERT INTO embeddings (model_id, item_id, vector)
         SELECT $2, input.id, input.vector FROM input JOIN item ON item.id = input.id
       )
       SELECT id, created_at FROM item`,
      [JSON.stringify(payload), modelId],
    );
    return new Map(inserted.map((row) => [row.id, new Date(row.created_at)]));
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
