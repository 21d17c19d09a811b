import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config';
import { HnswIndex } from '../../vector-index/hnsw-index';
import { decodeImage } from '../../ml/data';
import { GalleryRepository } from '../gallery/gallery.repository';
import { GalleryService } from '../gallery/gallery.service';
import { ReadinessRegistry } from '../health/readiness.registry';
import { EmbeddingsRepository } from '../search/embeddings.repository';
import {
  REPLICA_SYNC_MS,
  ServingModel,
  VectorIndexService,
} from '../search/vector-index.service';
import { ModelEmbedder } from '../embedding/model-embedder';
import { ModelVersion } from './model.entity';
import { DEFAULT_MODEL_ID, ModelRegistryService } from './model-registry.service';
import { ModelsRepository } from './models.repository';
import { Poller } from '../../common/poller';

const BATCH = 256;
/** How long a replaced model's worker stays up for searches that started before the swap. */
const RETIRE_GRACE_MS = 5000;

class DeployInterrupted extends Error {
  constructor() {
    super('deploy interrupted by shutdown; it resumes at the next start');
  }
}

export interface DeployAccepted {
  id: string;
  status: 'deploying' | 'deployed';
}

/**
 * Puts a model version into service: re-embeds the gallery with it in the background, builds its
 * index, then swaps it in atomically (the previous model keeps serving until then). Also brings the
 * serving state up at start-up, deploying the bundled default model on a fresh install.
 */
@Injectable()
export class DeployService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DeployService.name);
  private running: { modelId: string; done: Promise<void> } | null = null;
  private readonly retiring = new Map<ServingModel, NodeJS.Timeout>();
  private shuttingDown = false;
  /** Replicas on a shared PostgreSQL: the poll for a model another replica deployed, and a switch in progress. */
  private readonly follower = new Poller(
    () => this.followActiveModel(),
    (error) => this.logger.warn(`could not follow the active model: ${error.message}`),
  );
  private following: Promise<boolean> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly models: ModelsRepository,
    private readonly registry: ModelRegistryService,
    private readonly indexes: VectorIndexService,
    private readonly embeddings: EmbeddingsRepository,
    private readonly galleryItems: GalleryRepository,
    private readonly gallery: GalleryService,
    readiness: ReadinessRegistry,
  ) {
    readiness.register('model', () => {
      const serving = this.indexes.current();
      return {
        up: serving !== null,
        modelId: serving?.modelId ?? null,
        deploying: this.running?.modelId ?? null,
      };
    });
    readiness.register('index', () => {
      const serving = this.indexes.current();
      return {
        up: serving !== null,
        modelId: serving?.modelId ?? null,
        vectors: serving?.index.size ?? 0,
      };
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.gallery.recover();
    const stale = await this.dropStaleEmbeddings();
    await this.registry.scan();
    const active = await this.models.findActive();
    if (active && stale.has(active.id)) {
      // Its index was built with the old weights: searches must not use it. Rebuilt before serving.
      this.logger.warn(
        `model ${active.id} serves searches and has new weights: re-deploying it (re-embedding the gallery and rebuilding its index) before serving`,
      );
      await this.deployNow(active);
    } else if (active) {
      await this.serve(active);
    } else {
      const fallback = await this.models.findById(DEFAULT_MODEL_ID);
      if (fallback) {
        this.logger.log(`no model deployed: deploying the bundled model '${DEFAULT_MODEL_ID}'`);
        await this.deployNow(fallback);
      } else {
        this.logger.warn(
          'no model deployed and no bundled default model: searches answer 503 until one is deployed',
        );
      }
    }
    // A deploy interrupted by a restart starts again (embeddings it already stored are reused).
    for (const model of await this.models.findByStatus('deploying')) {
      if (!this.running) void this.startInBackground(model);
    }
    // A model deployed through another replica is served here too (PGlite has one process).
    if (this.config.database.kind === 'postgres') this.follower.start(REPLICA_SYNC_MS);
  }

  /**
   * Registrations brought in line with their directories (registry.refreshRegistrations); for each
   * model whose weights changed (an upgrade that ships a retrained bundled model, say) the embeddings
   * and index files built with the old weights are dropped, so no search or later deploy uses them.
   * Returns the ids of those models.
   */
  private async dropStaleEmbeddings(): Promise<Set<string>> {
    const stale = new Set<string>();
    for (const change of await this.registry.refreshRegistrations()) {
      if (!change.weightsChanged) continue;
      await this.embeddings.deleteForModel(change.id);
      await this.indexes.removeFiles(change.id);
      this.logger.warn(
        `model ${change.id}: dropped the embeddings and index built with its previous weights (sha256 ${change.previousWeightsSha256 ?? 'none'})`,
      );
      stale.add(change.id);
    }
    return stale;
  }

  /**
   * Switches to the active model when another replica activated one: its embeddings are all in the
   * database (the deploying replica stored them before activating it), so this builds or loads its
   * index, embeds what this replica ingested with the old model in the meantime, and swaps. Returns
   * whether it switched.
   */
  async followActiveModel(): Promise<boolean> {
    if (this.running || this.shuttingDown) return false;
    if (this.following) return this.following;
    const active = await this.models.findActive();
    if (!active || active.id === this.indexes.current()?.modelId || this.running) return false;
    const switching = this.follow(active).finally(() => (this.following = null));
    this.following = switching;
    return switching;
  }

  private async follow(model: ModelVersion): Promise<boolean> {
    this.logger.log(`model ${model.id} was deployed by another replica: switching to it`);
    const embedder = await this.startEmbedder(model);
    let switched = false;
    try {
      const index = await this.indexes.open(model.id, embedder.embeddingDim);
      this.indexes.startBuilding(index);
      const noProgress = async () => undefined;
      await this.catchUp(model.id, embedder, index, noProgress);
      switched = await this.indexes.writeLock.run(async () => {
        // A deploy started here, or another model activated meanwhile: the next look decides.
        if (this.running || (await this.models.findActive())?.id !== model.id) return false;
        await this.catchUp(model.id, embedder, index, noProgress);
        this.retire(this.indexes.swap({ modelId: model.id, embedder, index }));
        return true;
      });
      if (switched) this.logger.log(`serving model ${model.id} with ${index.size} indexed items`);
      return switched;
    } catch (error) {
      if (error instanceof DeployInterrupted) return false;
      throw error;
    } finally {
      if (!switched) {
        this.indexes.stopBuilding(model.id);
        await embedder.close();
      }
    }
  }

  /** POST /v1/models/:id/deploy. */
  async requestDeploy(id: string): Promise<DeployAccepted> {
    const model = await this.registry.get(id);
    if (this.indexes.current()?.modelId === id) return { id, status: 'deployed' };
    // A deploy that has swapped its model in is only tidying up (retiring the old worker and files):
    // clients already read it as deployed, so the next deploy waits for it instead of a 409.
    if (this.running && this.indexes.current()?.modelId === this.running.modelId)
      await this.running.done;
    if (this.running) {
      if (this.running.modelId === id) return { id, status: 'deploying' };
      throw new ConflictException(
        `Model ${this.running.modelId} is being deployed; try again when it has finished`,
      );
    }
    // The answer says 'deploying': GET /v1/models must say so too once it has gone out (a client that
    // polls right after the 202 and sees the old state would stop watching).
    await this.startInBackground(model);
    return { id, status: 'deploying' };
  }

  /** Resolves when the deploy in progress (if any) has finished or failed. */
  async idle(): Promise<void> {
    await this.running?.done.catch(() => undefined);
  }

  /** Starts a deploy; the returned promise resolves once its 'deploying' status is stored (or it ended). */
  private startInBackground(model: ModelVersion): Promise<void> {
    let statusStored: () => void = () => undefined;
    const stored = new Promise<void>((resolve) => (statusStored = resolve));
    const done = this.deployNow(model, statusStored)
      .catch((error: Error) => this.logger.error(`deploy of ${model.id} failed: ${error.message}`))
      .finally(() => {
        statusStored();
        if (this.running?.modelId === model.id) this.running = null;
      });
    this.running = { modelId: model.id, done };
    return stored;
  }

  /** Serves the active model: its worker, and its index loaded from disk or rebuilt from the database. */
  private async serve(model: ModelVersion): Promise<void> {
    const embedder = await this.startEmbedder(model);
    try {
      const index = await this.indexes.open(model.id, embedder.embeddingDim);
      await this.indexes.writeLock.run(async () =>
        this.retire(this.indexes.swap({ modelId: model.id, embedder, index })),
      );
      this.logger.log(`serving model ${model.id} with ${index.size} indexed items`);
    } catch (error) {
      await embedder.close();
      throw error;
    }
  }

  private async deployNow(
    model: ModelVersion,
    onStatusStored: () => void = () => undefined,
  ): Promise<void> {
    const startedAt = new Date().toISOString();
    await this.models.setStatus(model.id, 'deploying');
    onStatusStored();
    const embedder = await this.startEmbedder(model).catch(async (error: Error) => {
      await this.models.setStatus(model.id, 'failed', error.message);
      throw error;
    });
    const total = await this.galleryItems.count();
    const index = this.indexes.createIndex(model.id, embedder.embeddingDim, total);
    this.indexes.startBuilding(index);
    try {
      // Embeddings stored by an earlier, interrupted deploy of this model are reused.
      await this.indexes.addFromDatabase(index, null);
      const progress = async () =>
        this.models.setProgress(model.id, {
          embedded: index.size,
          total: Math.max(total, index.size),
          startedAt,
        });
      await this.catchUp(model.id, embedder, index, progress);
      await this.indexes.writeLock.run(async () => {
        // Items uploaded (and embedded with the old model) while the bulk of the work ran.
        await this.catchUp(model.id, embedder, index, progress);
        await this.indexes.reconcile(index);
        await this.models.activate(model.id);
        this.retire(this.indexes.swap({ modelId: model.id, embedder, index }));
      });
      await this.models.setProgress(model.id, {
        embedded: index.size,
        total: index.size,
        startedAt,
        finishedAt: new Date().toISOString(),
      });
      await this.indexes.saveNow(index);
      this.logger.log(`deployed model ${model.id}: ${index.size} items re-embedded and indexed`);
    } catch (error) {
      this.indexes.stopBuilding(model.id);
      await embedder.close();
      // Interrupted by shutdown: the status stays 'deploying' and the next start resumes it.
      if (!(error instanceof DeployInterrupted))
        await this.models.setStatus(model.id, 'failed', (error as Error).message);
      throw error;
    }
  }

  /** Embeds every gallery item that has no embedding under this model yet, in batches. */
  private async catchUp(
    modelId: string,
    embedder: ModelEmbedder,
    index: HnswIndex,
    progress: () => Promise<void>,
  ): Promise<void> {
    const [height, width, channels] = embedder.inputShape;
    for (;;) {
      if (this.shuttingDown) throw new DeployInterrupted();
      const items = await this.embeddings.itemsWithoutEmbedding(modelId, BATCH);
      if (items.length === 0) return;
      const pixels = await Promise.all(
        items.map(async (item) =>
          decodeImage(await this.gallery.images.read(item.contentSha256), {
            height,
            width,
            channels: channels as 1 | 3,
          }),
        ),
      );
      const vectors = await embedder.embed(pixels);
      const rows = items.map((item, i) => ({ itemId: item.id, vector: Array.from(vectors[i]) }));
      await this.embeddings.upsertMany(modelId, rows);
      // Only items still in the gallery got a row; deleted ones must not enter the index.
      const stored = new Set(
        (
          await this.embeddings.vectorsFor(
            modelId,
            rows.map((r) => r.itemId),
          )
        ).map((r) => r.itemId),
      );
      await this.indexes.addMany(
        modelId,
        rows.filter((row) => stored.has(row.itemId)),
      );
      await progress();
    }
  }

  private async startEmbedder(model: ModelVersion): Promise<ModelEmbedder> {
    const embedder = await ModelEmbedder.start(model.directory, {
      backend: this.config.tfjsBackend,
      threadNice: this.config.embedding.threadNice,
    });
    if (embedder.embeddingDim !== model.embeddingDim) {
      await embedder.close();
      throw new Error(
        `model ${model.id} embeds to ${embedder.embeddingDim} dimensions, its manifest says ${model.embeddingDim}`,
      );
    }
    return embedder;
  }

  /** Lets searches that started on the replaced model finish, then stops its worker and drops its files. */
  private retire(previous: ServingModel | null): void {
    if (!previous) return;
    const timer = setTimeout(() => {
      this.retiring.delete(previous);
      void previous.embedder.close();
      void this.indexes.removeFiles(previous.modelId).catch(() => undefined);
    }, RETIRE_GRACE_MS);
    timer.unref();
    this.retiring.set(previous, timer);
  }

  /** Runs before the database closes: an unfinished deploy stops and resumes at the next start. */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    this.follower.stop();
    await this.following?.catch(() => undefined);
    for (const [previous, timer] of this.retiring) {
      clearTimeout(timer);
      await previous.embedder.close();
    }
    this.retiring.clear();
    await this.idle();
  }
}
