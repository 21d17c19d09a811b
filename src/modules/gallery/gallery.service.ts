import {
  BadRequestException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { createHash, randomUUID } from 'crypto';
import * as path from 'path';
import type { Page } from '../../common/paging';
import { APP_CONFIG, AppConfig } from '../../config';
import { decodeImage } from '../../ml/data';
import { ItemCatalog } from '../search/item-catalog';
import { SearchService } from '../search/search.service';
import { VectorIndexService } from '../search/vector-index.service';
import { GalleryItem } from './gallery-item.entity';
import { GalleryPage, GalleryRepository, NewGalleryItem } from './gallery.repository';
import { ImageStore } from './image-store';
import { ImageRejectedError, inspectImage, UploadedImage } from '../../common/image-validation';

/** An item as the API returns it: what was stored, and when (ISO 8601). */
export interface GalleryItemView extends NewGalleryItem {
  createdAt: string;
}

export interface IngestedItem extends GalleryItemView {
  /** true when an image with the same content was already in the gallery (that item is returned). */
  duplicate: boolean;
}

interface PreparedImage {
  item: NewGalleryItem;
  bytes: Buffer;
}

export function toView(item: GalleryItem): GalleryItemView {
  return {
    id: item.id,
    label: item.label,
    metadata: item.metadata,
    contentSha256: item.contentSha256,
    mime: item.mime,
    width: item.width,
    height: item.height,
    bytes: item.bytes,
    createdAt: new Date(item.createdAt).toISOString(),
  };
}

/** Parses the `metadata` field: absent, or a JSON object. */
export function parseMetadata(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined || raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new BadRequestException(`metadata is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestException('metadata must be a JSON object');
  }
  return value as Record<string, unknown>;
}

@Injectable()
export class GalleryService {
  private readonly logger = new Logger(GalleryService.name);
  readonly images: ImageStore;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gallery: GalleryRepository,
    private readonly indexes: VectorIndexService,
    private readonly catalog: ItemCatalog,
    private readonly search: SearchService,
  ) {
    this.images = new ImageStore(path.join(config.dataDir, 'images'));
  }

  /**
   * Validates every file first (nothing is stored when one is bad), embeds them with the serving model,
   * then for each new image: bytes to disk durably, then item + embedding in one statement, then the index.
   */
  async ingest(
    files: UploadedImage[],
    label: string | undefined,
    metadataField: string | undefined,
  ): Promise<IngestedItem[]> {
    if (files.length === 0)
      throw new BadRequestException(
        "No images: send one or more files in the multipart field 'files'",
      );
    const metadata = parseMetadata(metadataField);
    let serving = this.search.serving();
    const prepared: PreparedImage[] = [];
    for (const [n, file] of files.entries()) {
      const name = file.originalname ? `file ${n + 1} (${file.originalname})` : `file ${n + 1}`;
      prepared.push(await this.prepare(file.buffer, name, label ?? null, metadata));
    }
    let vectors = await this.embed(prepared, serving.embedder);
    // Durable file writes (content-addressed, idempotent) happen outside the lock so uploads overlap.
    // The first occurrence of each content hash; later copies in the same request are duplicates of it.
    const unique = new Map<string, number>();
    prepared.forEach((image, n) => {
      if (!unique.has(image.item.contentSha256)) unique.set(image.item.contentSha256, n);
    });
    await this.images.writeMany(
      [...unique.values()]
        .map((n) => prepared[n])
        .map((image) => ({ hash: image.item.contentSha256, bytes: image.bytes })),
    );
    const stored = await this.indexes.writeLock.run(async () => {
      // A deploy may have swapped the model while these were embedded: embed again with the new one.
      const now = this.search.serving();
      if (now !== serving) {
        serving = now;
        vectors = await this.embed(prepared, serving.embedder);
      }
      return this.commit(
        [...unique.values()].map((n) => ({ image: prepared[n], vector: vectors[n] })),
        serving.modelId,
      );
    });
    return prepared.map((image, n) => {
      const result = stored.get(image.item.contentSha256) as IngestedItem;
      // The second copy of a file sent twice in one request is a duplicate of the first.
      return unique.get(image.item.contentSha256) === n ? result : { ...result, duplicate: true };
    });
  }

  /**
   * Inserts the new images (rows + embeddings in one statement), then indexes them; images whose
   * content is already in the gallery come back as duplicates of the existing item. Caller holds writeLock.
   */
  private async commit(
    batch: { image: PreparedImage; vector: Float32Array }[],
    modelId: string,
  ): Promise<Map<string, IngestedItem>> {
    const results = new Map<string, IngestedItem>();
    const existing = await this.gallery.findByHashes(batch.map((b) => b.image.item.contentSha256));
    for (const item of existing)
      results.set(item.contentSha256, { ...toView(item), duplicate: true });
    const fresh = batch.filter((b) => !results.has(b.image.item.contentSha256));
    // Written before the lock; a delete of an item with the same content may have removed it since.
    await this.images.writeMany(
      fresh.map((b) => ({ hash: b.image.item.contentSha256, bytes: b.image.bytes })),
    );
    const created = await this.gallery.insertManyWithEmbeddings(
      fresh.map((b) => ({ item: b.image.item, vector: Array.from(b.vector) })),
      modelId,
    );
    const inserted = fresh.filter((b) => created.has(b.image.item.id));
    for (const { image } of inserted) {
      this.catalog.set(image.item.id, { label: image.item.label, metadata: image.item.metadata });
      results.set(image.item.contentSha256, {
        ...image.item,
        createdAt: (created.get(image.item.id) as Date).toISOString(),
        duplicate: false,
      });
    }
    await this.indexes.addMany(
      modelId,
      inserted.map(({ image, vector }) => ({ itemId: image.item.id, vector })),
    );
    // Lost a race with a concurrent upload of the same content (ON CONFLICT DO NOTHING): report the winner.
    const lost = fresh
      .filter((b) => !created.has(b.image.item.id))
      .map((b) => b.image.item.contentSha256);
    for (const item of await this.gallery.findByHashes(lost))
      results.set(item.contentSha256, { ...toView(item), duplicate: true });
    return results;
  }

  async list(page: number, limit: number, label?: string): Promise<Page<GalleryItemView>> {
    const result: GalleryPage = await this.gallery.list(page, limit, label);
    return { items: result.items.map(toView), total: result.total, page, limit };
  }

  async get(id: string): Promise<GalleryItem> {
    const item = await this.gallery.findById(id);
    if (!item) throw new NotFoundException(`No gallery item with id ${id}`);
    return item;
  }

  async content(id: string): Promise<{ item: GalleryItem; bytes: Buffer }> {
    const item = await this.get(id);
    return { item, bytes: await this.images.read(item.contentSha256) };
  }

  async delete(id: string): Promise<void> {
    await this.indexes.writeLock.run(async () => {
      const item = await this.gallery.delete(id);
      if (!item) throw new NotFoundException(`No gallery item with id ${id}`);
      this.catalog.delete(id);
      await this.indexes.remove(id);
      await this.images.remove(item.contentSha256);
    });
  }

  private async prepare(
    bytes: Buffer,
    name: string,
    label: string | null,
    metadata: Record<string, unknown>,
  ): Promise<PreparedImage> {
    let inspected;
    try {
      inspected = await inspectImage(bytes, this.config.uploads, name);
    } catch (error) {
      if (error instanceof ImageRejectedError) throw new HttpException(error.message, error.status);
      throw error;
    }
    return {
      bytes,
      item: {
        id: randomUUID(),
        label,
        metadata,
        contentSha256: createHash('sha256').update(bytes).digest('hex'),
        mime: inspected.mime,
        width: inspected.width,
        height: inspected.height,
        bytes: bytes.length,
      },
    };
  }

  /** Decodes with the model's own preprocessing (this also catches truncated files) and embeds. */
  private async embed(
    images: PreparedImage[],
    embedder: ReturnType<SearchService['serving']>['embedder'],
  ): Promise<Float32Array[]> {
    const [height, width, channels] = embedder.inputShape;
    const pixels: Float32Array[] = [];
    for (const [n, image] of images.entries()) {
      try {
        pixels.push(await decodeImage(image.bytes, { height, width, channels: channels as 1 | 3 }));
      } catch (error) {
        throw new BadRequestException(
          `file ${n + 1} could not be decoded: ${(error as Error).message}`,
        );
      }
    }
    return embedder.embed(pixels);
  }

  /** Start-up: loads the catalog and removes image files no row names (left by a crash mid-ingest). */
  async recover(): Promise<void> {
    await this.images.init();
    const swept = await this.images.sweep(await this.gallery.allContentHashes());
    if (swept > 0)
      this.logger.warn(`removed ${swept} image files without a gallery row (interrupted uploads)`);
    this.catalog.replaceAll(
      (await this.gallery.catalogRows()).map((row) => [
        row.id,
        { label: row.label, metadata: row.metadata },
      ]),
    );
  }
}
