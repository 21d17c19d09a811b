import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { APP_CONFIG, AppConfig } from '../../config';
import { HnswIndex } from '../../vector-index/hnsw-index';
import {
  IndexLoadError,
  loadIndex,
  removeIndexFiles,
  saveIndex,
} from '../../vector-index/index-store';
import type { ModelEmbedder } from '../embedding/model-embedder';
import { AsyncMutex } from './async-mutex';
import { EmbeddingsRepository } from './embeddings.repository';
import { ItemCatalog } from './item-catalog';
import { Poller } from '../../common/poller';
import { EventLoopPacer } from '../../common/event-loop-pacer';

/** What serves searches: one model, its embedder (worker) and its index, swapped as one value. */
export interface ServingModel {
  modelId: string;
  embedder: ModelEmbedder;
  index: HnswIndex;
}

const PAGE = 5000;
const SAVE_DELAY_MS = 2000;
/**
 * Saves of a large index wait this many times as long as the last save took, so saving stays a small
 * share of the machine while images stream in (the database holds every embedding: what a crash loses
 * from the file is re-added from there on start).
 */
const SAVE_COST_FACTOR = 10;

/** The wait before a background save, given how long the last one took. */
export function saveDelayAfter(lastSaveMs: number): number {
  return Math.max(SAVE_DELAY_MS, Math.round(SAVE_COST_FACTOR * lastSaveMs));
}
/** How often a replica on a shared PostgreSQL looks for items that other replicas ingested. */
export const REPLICA_SYNC_MS = 1000;
/**
 * created_at is the inserting transaction's start time, so a slow commit can land behind the
 * high-water mark: each look goes back this far (items already indexed are skipped).
 */
const SYNC_LOOKBACK_MS = 10_000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** Every this many looks, a full id comparison (catches anything the others missed). */
const FULL_RECONCILE_EVERY = 60;

export interface SyncResult {
  added: number;
  removed: number;
}

/**
 * Owns the HNSW indexes: the serving one and any being built by a deploy. Builds an index from
 * PostgreSQL, loads a persisted one (reconciled against the database), saves changes in the
 * background, and swaps the serving model atomically.
 */
@Injectable()
export class VectorIndexService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VectorIndexService.name);
  private serving: ServingModel | null = null;
  /** Indexes a deploy is building: deletions must reach them too. */
  private readonly building = new Map<string, HnswIndex>();
  /** Serialises ingest commits, deletions and the deploy swap (see GalleryService and DeployService). */
  readonly writeLock = new AsyncMutex();
  private readonly dirty = new Set<HnswIndex>();
  private saveTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;
  private lastSaveMs = 0;
  readonly indexDir: string;
  /** Replica sync: the newest created_at seen for the serving model, and the poll. */
  private syncMark: { modelId: string; createdAt: Date } | null = null;
  private readonly replicaSync = new Poller(
    () => this.syncFromDatabase(),
    (error) => this.logger.warn(`replica sync failed: ${error.message}`),
  );
  private syncLooks = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly embeddings: EmbeddingsRepository,
    private readonly catalog: ItemCatalog,
  ) {
    this.indexDir = path.join(config.dataDir, 'index');
  }

  /**
   * On a shared PostgreSQL other replicas ingest and delete too: poll for their changes. Embedded
   * PGlite has one process, so there is nothing to pick up.
   */
  onApplicationBootstrap(): void {
    if (this.config.database.kind === 'postgres') this.replicaSync.start(REPLICA_SYNC_MS);
  }

  /**
   * Brings the serving index and the catalog up to date with what other processes wrote: items
   * created since the high-water mark are added; when the counts then differ (deletions elsewhere),
   * or every FULL_RECONCILE_EVERY looks, the ids are compared in full. Runs under writeLock, so it
   * never races this process's own ingests and deletions.
   */
  async syncFromDatabase(): Promise<SyncResult> {
    return this.writeLock.run(async () => {
      const serving = this.serving;
      if (!serving) return { added: 0, removed: 0 };
      const { modelId, index } = serving;
      if (this.syncMark?.modelId !== modelId) {
        // First look for this model: the index was loaded from (and reconciled with) the database
        // moments ago; start a lookback before now.
        const now = await this.embeddings.now();
        this.syncMark = { modelId, createdAt: new Date(now.getTime() - SYNC_LOOKBACK_MS) };
      }
      const mark = this.syncMark;
      let added = 0;
      let since = new Date(mark.createdAt.getTime() - SYNC_LOOKBACK_MS);
      let afterId = NIL_UUID;
      for (;;) {
        const rows = await this.embeddings.createdSince(modelId, since, afterId, PAGE);
        if (rows.length === 0) break;
        const page = await this.insertPaced(index, rows, {
          wanted: (row) => !index.has(row.itemId),
          onInsert: (row) =>
            this.catalog.set(row.itemId, { label: row.label, metadata: row.metadata }),
          current: () => this.serving === serving,
        });
        added += page.inserted;
        if (page.stopped) return { added, removed: 0 };
        const last = rows[rows.length - 1];
        if (last.createdAt && last.createdAt > mark.createdAt) mark.createdAt = last.createdAt;
        if (rows.length < PAGE) break;
        since = last.createdAt ?? since;
        afterId = last.itemId;
      }
      let removed = 0;
      this.syncLooks++;
      const full = this.syncLooks % FULL_RECONCILE_EVERY === 0;
      if (full || (await this.embeddings.countForModel(modelId)) !== index.size) {
        const changes = await this.reconcileIds(index);
        for (const id of changes.removed) this.catalog.delete(id);
        for (const row of await this.embeddings.catalogRowsFor(changes.added))
          this.catalog.set(row.itemId, { label: row.label, metadata: row.metadata });
        added += changes.added.length;
        removed = changes.removed.length;
      }
      if (added > 0) this.markDirty(index);
      return { added, removed };
    });
  }

  current(): ServingModel | null {
    return this.serving;
  }

  /**
   * The index of a model as the database holds it: the persisted file when it is usable (then brought
   * in line with the database), otherwise rebuilt from the stored embeddings.
   */
  async open(modelId: string, dim: number): Promise<HnswIndex> {
    let index: HnswIndex | null = null;
    try {
      index = await loadIndex(this.indexDir, { modelId, dim });
    } catch (error) {
      if (!(error instanceof IndexLoadError)) throw error;
      this.logger.warn(`${error.message}; rebuilding from the database`);
    }
    if (index) {
      const changed = await this.reconcile(index);
      if (changed > 0)
        this.logger.warn(
          `index of ${modelId} was stale: ${changed} changes applied from the database`,
        );
      if (changed === 0) return index;
    } else {
      index = await this.rebuild(modelId, dim);
    }
    await this.saveNow(index);
    return index;
  }

  /**
   * A new, empty index for a model, with the configured graph (HNSW_M, HNSW_EF_CONSTRUCTION,
   * HNSW_EF_SEARCH) and room for `capacity` vectors. Every index this service serves is made here:
   * a rebuild from the database and a deploy's re-embedding alike.
   */
  createIndex(modelId: string, dim: number, capacity: number): HnswIndex {
    return HnswIndex.create(modelId, dim, this.config.index, capacity);
  }

  /** Builds the index of a model from all its embeddings in the database. */
  async rebuild(modelId: string, dim: number): Promise<HnswIndex> {
    const started = Date.now();
    const total = await this.embeddings.countForModel(modelId);
    const index = this.createIndex(modelId, dim, total);
    await this.addFromDatabase(index, null);
    this.logger.log(
      `built index of ${modelId}: ${index.size} vectors in ${Date.now() - started} ms`,
    );
    return index;
  }

  /** Adds every stored embedding of the index's model that the index lacks; pages through the table. */
  async addFromDatabase(index: HnswIndex, only: Set<string> | null): Promise<number> {
    let after: string | null = null;
    let added = 0;
    for (;;) {
      const page = await this.embeddings.pageForModel(index.modelId, after, PAGE);
      if (page.length === 0) break;
      added += (
        await this.insertPaced(index, page, {
          wanted: (row) => (only ? only.has(row.itemId) : !index.has(row.itemId)),
        })
      ).inserted;
      after = page[page.length - 1].itemId;
    }
    return added;
  }

  /** Makes the index hold exactly the items the database has embeddings for; returns the number of changes. */
  async reconcile(index: HnswIndex): Promise<number> {
    const { added, removed } = await this.reconcileIds(index);
    return added.length + removed.length;
  }

  private async reconcileIds(index: HnswIndex): Promise<{ added: string[]; removed: string[] }> {
    const inDatabase = new Set(await this.embeddings.itemIdsForModel(index.modelId));
    await this.settled();
    const extra = index.ids().filter((id) => !inDatabase.has(id));
    for (const id of extra) index.remove(id);
    const missing = [...inDatabase].filter((id) => !index.has(id));
    const added: string[] = [];
    for (let i = 0; i < missing.length; i += PAGE) {
      const rows = await this.embeddings.vectorsFor(index.modelId, missing.slice(i, i + PAGE));
      await this.insertPaced(index, rows, {
        wanted: (row) => !index.has(row.itemId),
        onInsert: (row) => added.push(row.itemId),
      });
    }
    if (extra.length + added.length > 0) this.markDirty(index);
    return { added, removed: extra };
  }

  /** Swaps the serving model in one assignment; the caller holds writeLock. Returns the previous one. */
  swap(next: ServingModel): ServingModel | null {
    const previous = this.serving;
    this.serving = next;
    this.catalog.shareKeys(next.index.ids());
    this.building.delete(next.modelId);
    this.markDirty(next.index);
    return previous;
  }

  startBuilding(index: HnswIndex): void {
    this.building.set(index.modelId, index);
  }

  stopBuilding(modelId: string): void {
    this.building.delete(modelId);
  }

  /** Adds an item to the serving index (after its row committed). */
  async add(modelId: string, itemId: string, vector: ArrayLike<number>): Promise<void> {
    await this.addMany(modelId, [{ itemId, vector }]);
  }

  /**
   * Adds items to the model's serving (or deploying) index in 4 ms slices: 50 HNSW inserts hold the
   * thread for ~25 ms at 70,000 items. The target is looked up again after each pause (a deploy may swap).
   */
  async addMany(
    modelId: string,
    items: readonly { itemId: string; vector: ArrayLike<number> }[],
  ): Promise<void> {
    await this.settled();
    const pacer = new EventLoopPacer();
    for (const { itemId, vector } of items) {
      await this.pace(pacer);
      const target =
        this.serving?.modelId === modelId ? this.serving.index : this.building.get(modelId);
      if (!target) continue;
      target.add(itemId, vector);
      this.markDirty(target);
    }
  }

  /** Removes an item from every open index. */
  async remove(itemId: string): Promise<void> {
    await this.settled();
    for (const index of [this.serving?.index, ...this.building.values()]) {
      if (index?.remove(itemId)) this.markDirty(index);
    }
  }

  async removeFiles(modelId: string): Promise<void> {
    await removeIndexFiles(this.indexDir, modelId);
  }

  /** Saves an index now (waiting for any save in progress first). */
  async saveNow(index: HnswIndex): Promise<void> {
    await this.settled();
    this.dirty.delete(index);
    const started = performance.now();
    this.saving = saveIndex(index, this.indexDir).then(() => undefined);
    try {
      await this.saving;
    } finally {
      this.saving = null;
      this.lastSaveMs = performance.now() - started;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.replicaSync.stop();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    await this.flush().catch((error: Error) =>
      this.logger.error(`saving indexes on shutdown failed: ${error.message}`),
    );
    await this.serving?.embedder.close();
    this.serving = null;
  }

  /** Saves every changed index of a serving or deploying model. */
  async flush(): Promise<void> {
    for (const index of [...this.dirty]) {
      if (index === this.serving?.index) await this.saveNow(index);
      else this.dirty.delete(index);
    }
  }

  /** How long changes wait before the next background save. */
  saveDelayMs(): number {
    return saveDelayAfter(this.lastSaveMs);
  }

  /**
   * The one insert loop of stored vectors into an index: after any save in progress, in slices of
   * about 4 ms (EventLoopPacer) so requests are answered in between. `wanted` picks the rows to add,
   * `onInsert` runs as each goes in (before the next pause), and the loop stops, reporting `stopped`,
   * as soon as `current` says the work no longer applies (a deploy swapped the serving model).
   */
  private async insertPaced<T extends { itemId: string; vector: ArrayLike<number> }>(
    index: HnswIndex,
    rows: readonly T[],
    options: { wanted: (row: T) => boolean; onInsert?: (row: T) => void; current?: () => boolean },
  ): Promise<{ inserted: number; stopped: boolean }> {
    const current = options.current ?? (() => true);
    let inserted = 0;
    await this.settled();
    if (!current()) return { inserted, stopped: true };
    const pacer = new EventLoopPacer();
    for (const row of rows) {
      await this.pace(pacer);
      if (!current()) return { inserted, stopped: true };
      if (!options.wanted(row)) continue;
      options.onInsert?.(row);
      index.add(row.itemId, row.vector);
      inserted++;
    }
    return { inserted, stopped: false };
  }

  /** Hands the event loop back between slices of index work, then waits out a save begun meanwhile. */
  private async pace(pacer: EventLoopPacer): Promise<void> {
    if (await pacer.tick()) await this.settled();
  }

  /** Mutations wait while hnswlib writes the graph from another thread (it takes no lock). */
  private async settled(): Promise<void> {
    while (this.saving) await this.saving.catch(() => undefined);
  }

  private markDirty(index: HnswIndex): void {
    this.dirty.add(index);
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.flush().catch((error: Error) =>
        this.logger.error(`saving the index failed: ${error.message}`),
      );
    }, this.saveDelayMs());
    this.saveTimer.unref();
  }
}
