/**
 * Data-parallel training of the reference net across worker threads (one wasm backend per core).
 *
 * A batch is cut into shards; each replica computes the loss gradients of its shards, the coordinator
 * averages them (weighted by shard size, in a fixed order) and every replica applies the same Adam step.
 * The result depends on the shard count, never on the worker count: one worker processing the same
 * shards gives the same parameters up to float rounding. As with PyTorch DDP, batch-hard mining sees
 * only the images of its own shard.
 */
import * as os from 'os';
import { WorkerPool } from '../../src/workers/pool';
import { workerEntry } from '../../src/workers/thread';
import { concatFloat32 } from '../../src/ml/data/arrays';
import type { ReplicaConfig, ReplicaRequest, ReplicaResult } from './replica.protocol';

export interface DataParallelOptions extends Partial<Omit<ReplicaConfig, 'size' | 'channels'>> {
  size: number;
  channels: number;
  /** Worker threads; defaults to the number of CPU cores. */
  workers?: number;
  /** Shards per batch; defaults to the worker count. Fix it to compare runs with different worker counts. */
  shards?: number;
}

/** Contiguous shard boundaries, sizes rounded to whole classes of 4 where the batch allows. */
export function shardBounds(batch: number, shards: number): Array<[number, number]> {
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`shards must be a positive integer (got ${shards})`);
  if (batch < shards) throw new Error(`batch of ${batch} cannot be cut into ${shards} shards`);
  const unit = batch % (4 * shards) === 0 ? 4 : 1;
  const units = batch / unit;
  const bounds: Array<[number, number]> = [];
  for (let s = 0; s < shards; s++) {
    bounds.push([
      Math.round((units * s) / shards) * unit,
      Math.round((units * (s + 1)) / shards) * unit,
    ]);
  }
  return bounds;
}

function expectKind<K extends ReplicaResult['kind']>(
  result: ReplicaResult,
  kind: K,
): Extract<ReplicaResult, { kind: K }> {
  if (result.kind !== kind)
    throw new Error(`replica answered '${result.kind}', expected '${kind}'`);
  return result as Extract<ReplicaResult, { kind: K }>;
}

export class DataParallelTrainer {
  private constructor(
    private readonly pool: WorkerPool<ReplicaRequest, ReplicaResult>,
    readonly config: ReplicaConfig,
    readonly shards: number,
    readonly backend: string,
  ) {}

  static async start(options: DataParallelOptions): Promise<DataParallelTrainer> {
    const workers = options.workers ?? os.cpus().length;
    const config: ReplicaConfig = {
      size: options.size,
      channels: options.channels,
      seed: options.seed ?? 0,
      fused: options.fused ?? true,
      backend: options.backend ?? process.env.TFJS_BACKEND,
      learningRate: options.learningRate ?? 1e-3,
    };
    const pool = WorkerPool.start<ReplicaRequest, ReplicaResult>(
      workerEntry(__dirname, 'replica.worker'),
      workers,
    );
    try {
      const answers = await pool.broadcast({ kind: 'init', config });
      const backend = expectKind(answers[0], 'ready').backend;
      return new DataParallelTrainer(pool, config, options.shards ?? workers, backend);
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  get workers(): number {
    return this.pool.size;
  }

  private get imageSize(): number {
    return this.config.size * this.config.size * this.config.channels;
  }

  private checkBatch(images: Float32Array, labels?: Int32Array): number {
    if (images.length % this.imageSize !== 0) {
      throw new Error(
        `images: ${images.length} values is not a whole number of ${this.config.size}x${this.config.size}x${this.config.channels} images`,
      );
    }
    const batch = images.length / this.imageSize;
    if (labels && labels.length !== batch)
      throw new Error(`labels: expected ${batch}, got ${labels.length}`);
    return batch;
  }

  /** Runs `request(shard)` for every shard, shards dealt round-robin to workers; results in shard order. */
  private async perShard(
    batch: number,
    shards: number,
    request: (from: number, to: number) => ReplicaRequest,
  ): Promise<ReplicaResult[]> {
    const bounds = shardBounds(batch, shards);
    const results: ReplicaResult[] = new Array(bounds.length);
    await Promise.all(
      Array.from({ length: this.workers }, async (_, worker) => {
        for (let s = worker; s < bounds.length; s += this.workers) {
          results[s] = await this.pool.call(worker, request(bounds[s][0], bounds[s][1]));
        }
      }),
    );
    return results;
  }

  /** One Adam step on the batch; returns the batch loss (shard losses weighted by shard size). */
  async trainStep(images: Float32Array, labels: Int32Array): Promise<number> {
    const batch = this.checkBatch(images, labels);
    const bounds = shardBounds(batch, this.shards);
    const results = await this.perShard(batch, this.shards, (from, to) => ({
      kind: 'gradients',
      images: images.slice(from * this.imageSize, to * this.imageSize),
      labels: labels.slice(from, to),
    }));
    let loss = 0;
    let averaged: Float32Array | null = null;
    results.forEach((result, s) => {
      const weight = (bounds[s][1] - bounds[s][0]) / batch;
      const { gradients, loss: shardLoss } = expectKind(result, 'gradients');
      loss += weight * shardLoss;
      if (!averaged) averaged = new Float32Array(gradients.length);
      for (let i = 0; i < gradients.length; i++) averaged[i] += weight * gradients[i];
    });
    await this.pool.broadcast({ kind: 'apply', gradients: averaged! });
    return loss;
  }

  /** L2-normalised embeddings of the batch, [B * 128] row-major. */
  async infer(images: Float32Array): Promise<Float32Array> {
    const batch = this.checkBatch(images);
    const parts = await this.perShard(batch, Math.min(this.workers, batch), (from, to) => ({
      kind: 'infer',
      images: images.slice(from * this.imageSize, to * this.imageSize),
    }));
    return concatFloat32(parts.map((part) => expectKind(part, 'tensor').values));
  }

  /** One signed-gradient attack step on every image (mining within each worker's shard). */
  async pgdStep(images: Float32Array, labels: Int32Array, stepSize = 0.01): Promise<Float32Array> {
    const batch = this.checkBatch(images, labels);
    const parts = await this.perShard(batch, Math.min(this.workers, batch), (from, to) => ({
      kind: 'pgd',
      images: images.slice(from * this.imageSize, to * this.imageSize),
      labels: labels.slice(from, to),
      stepSize,
    }));
    return concatFloat32(parts.map((part) => expectKind(part, 'tensor').values));
  }

  /** Every replica's parameters, flattened (they stay identical). */
  async parameters(): Promise<Float32Array[]> {
    return (await this.pool.broadcast({ kind: 'params' })).map(
      (r) => expectKind(r, 'tensor').values,
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
