import {
  BadRequestException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Histogram } from 'prom-client';
import { MicroBatcher } from '../../common/micro-batcher';
import { APP_CONFIG, AppConfig } from '../../config';
import { decodeImage } from '../../ml/data';
import { ImageRejectedError, inspectImage, UploadedImage } from '../../common/image-validation';
import { MetricsService } from '../metrics/metrics.service';
import type { ModelEmbedder } from '../embedding/model-embedder';
import { ItemCatalog } from './item-catalog';
import { SimilarQueryDto } from './dto/search-query.dto';
import { ServingModel, VectorIndexService } from './vector-index.service';

export interface SearchHit {
  id: string;
  label: string | null;
  score: number;
  distance: number;
  metadata: Record<string, unknown>;
}

export interface SearchResponse {
  modelId: string;
  tookMs: number;
  results: SearchHit[];
}

const DEFAULT_K = 10;
/** With a label filter the graph walk widens by this factor, so filtered results keep their recall. */
const FILTER_OVERFETCH = 4;

@Injectable()
export class SearchService {
  /** One micro-batcher per embedder: a window's queries all go to the model they were decoded for. */
  private readonly batchers = new WeakMap<
    ModelEmbedder,
    MicroBatcher<Float32Array, Float32Array>
  >();
  private readonly batchSize: Histogram;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly indexes: VectorIndexService,
    private readonly catalog: ItemCatalog,
    metrics: MetricsService,
  ) {
    this.batchSize = new Histogram({
      name: 'search_upload_embedding_batch_size',
      help: 'Search-by-upload queries embedded together in one call to the embedding worker (SEARCH_BATCH_WINDOW_MS, SEARCH_BATCH_MAX)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [metrics.registry],
    });
  }

  /** The serving model, or 503 when none is deployed yet. */
  serving(): ServingModel {
    const serving = this.indexes.current();
    if (!serving)
      throw new ServiceUnavailableException(
        'No model is deployed yet: deploy one with POST /v1/models/:id/deploy',
      );
    return serving;
  }

  /**
   * Validates and decodes the image (a bad one is refused here, before it can join a batch), embeds it
   * together with the queries that arrive within the batching window, and searches. `signal`: the
   * client went away; a query still waiting for its batch then leaves it.
   */
  async searchByImage(
    file: UploadedImage | undefined,
    options: SimilarQueryDto,
    signal?: AbortSignal,
  ): Promise<SearchResponse> {
    const started = process.hrtime.bigint();
    if (!file) throw new BadRequestException("No image: send it in the multipart field 'file'");
    this.checkOptions(options);
    const serving = this.serving();
    const pixels = await decodeQuery(file.buffer, serving, this.config, file.originalname);
    const vector = await this.batcherFor(serving.embedder).submit(pixels, signal);
    return this.respond(serving, vector, options, started, null);
  }

  private batcherFor(embedder: ModelEmbedder): MicroBatcher<Float32Array, Float32Array> {
    let batcher = this.batchers.get(embedder);
    if (!batcher) {
      batcher = new MicroBatcher<Float32Array, Float32Array>({
        windowMs: this.config.searchBatch.windowMs,
        maxBatch: this.config.searchBatch.maxBatch,
        run: (images) => embedder.embed(images),
        validate: (image) => {
          if (image.length !== embedder.pixelsPerImage)
            throw new Error(
              `expected an image of [${embedder.inputShape.join(', ')}], got ${image.length} values`,
            );
        },
        onBatch: (size) => this.batchSize.observe(size),
      });
      this.batchers.set(embedder, batcher);
    }
    return batcher;
  }

  searchById(id: string, options: SimilarQueryDto): SearchResponse {
    const started = process.hrtime.bigint();
    this.checkOptions(options);
    const serving = this.serving();
    const vector = serving.index.vectorOf(id);
    if (!vector) throw new NotFoundException(`No gallery item with id ${id}`);
    return this.respond(serving, vector, options, started, id);
  }

  private checkOptions(options: SimilarQueryDto): void {
    const k = options.k ?? DEFAULT_K;
    if (options.ef !== undefined && options.ef < k) {
      throw new BadRequestException(`ef must be at least k (got ef=${options.ef}, k=${k})`);
    }
  }

  private respond(
    serving: ServingModel,
    vector: ArrayLike<number>,
    options: SimilarQueryDto,
    started: bigint,
    excludeId: string | null,
  ): SearchResponse {
    const k = options.k ?? DEFAULT_K;
    // Search by id leaves the item itself out, so ask for one more.
    const wanted = excludeId ? k + 1 : k;
    const label = options.label;
    const ef =
      Math.max(options.ef ?? this.config.index.efSearch, wanted) *
      (label === undefined ? 1 : FILTER_OVERFETCH);
    const filter =
      label === undefined ? undefined : (id: string) => this.catalog.get(id)?.label === label;
    const neighbours = serving.index.search(vector, { k: wanted, ef, filter });
    const results: SearchHit[] = [];
    for (const n of neighbours) {
      if (n.id === excludeId) continue;
      if (options.minScore !== undefined && n.score < options.minScore) continue;
      const entry = this.catalog.get(n.id);
      results.push({
        id: n.id,
        label: entry?.label ?? null,
        score: n.score,
        distance: n.distance,
        metadata: entry?.metadata ?? {},
      });
      if (results.length === k) break;
    }
    return {
      modelId: serving.modelId,
      tookMs: Number(process.hrtime.bigint() - started) / 1e6,
      results,
    };
  }
}

/** Validates and decodes a query image with the serving model's preprocessing. */
async function decodeQuery(
  bytes: Buffer,
  serving: ServingModel,
  config: AppConfig,
  name = 'file',
): Promise<Float32Array> {
  try {
    await inspectImage(bytes, config.uploads, name);
    const [height, width, channels] = serving.embedder.inputShape;
    return await decodeImage(bytes, { height, width, channels: channels as 1 | 3 });
  } catch (error) {
    if (error instanceof ImageRejectedError) throw new HttpException(error.message, error.status);
    throw new BadRequestException(`${name} could not be decoded: ${(error as Error).message}`);
  }
}
