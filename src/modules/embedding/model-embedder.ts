import type { Worker } from 'worker_threads';
import { ServiceUnavailableException } from '@nestjs/common';
import { startThread, workerEntry } from '../../workers/thread';
import type { EmbedRequest, EmbeddingWorkerData, WorkerReply } from './embedding.protocol';

interface Pending {
  images: Float32Array[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
}

/**
 * One model version loaded in its own worker thread. Requests that arrive while a batch is being
 * embedded are queued and sent together as the next batch, so concurrent queries share one forward pass.
 */
export class ModelEmbedder {
  private readonly queue: Pending[] = [];
  private inFlight: { id: number; parts: Pending[] } | null = null;
  private nextId = 0;
  private failure: Error | null = null;

  private constructor(
    readonly modelDir: string,
    private readonly worker: Worker,
    readonly embeddingDim: number,
    readonly inputShape: [number, number, number],
    private readonly maxBatch: number,
    /** The nice value the worker thread runs at. */
    readonly threadNice: number,
  ) {
    // A worker must never keep the process alive on its own (shutdown, tests).
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) =>
      this.fail(
        new ServiceUnavailableException(
          `The embedding worker stopped (exit code ${code}): retry the request`,
        ),
      ),
    );
  }

  static async start(
    modelDir: string,
    options: { backend?: string; maxBatch?: number; threadNice?: number } = {},
  ): Promise<ModelEmbedder> {
    const worker = startThread(
      workerEntry(__dirname, 'embedding.worker'),
      { modelDir, backend: options.backend } satisfies EmbeddingWorkerData,
      { nice: options.threadNice },
    );
    const ready = await new Promise<Extract<WorkerReply, { type: 'ready' }>>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new Error(`embedding worker for ${modelDir} exited with code ${code}`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (reply: WorkerReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (reply.type === 'ready') resolve(reply);
        else
          reject(
            new Error(
              `cannot load model ${modelDir}: ${reply.type === 'failed' ? reply.message : reply.type}`,
            ),
          );
      });
    }).catch(async (error: Error) => {
      await worker.terminate();
      throw error;
    });
    return new ModelEmbedder(
      modelDir,
      worker,
      ready.embeddingDim,
      ready.inputShape,
      options.maxBatch ?? 256,
      ready.nice,
    );
  }

  get pixelsPerImage(): number {
    const [h, w, c] = this.inputShape;
    return h * w * c;
  }

  /** Embeds decoded images (each H*W*C pixels in [0,1]); returns one L2-normalised vector per image. */
  embed(images: Float32Array[]): Promise<Float32Array[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (images.length === 0) return Promise.resolve([]);
    for (const image of images) {
      if (image.length !== this.pixelsPerImage) {
        return Promise.reject(
          new Error(
            `expected images of [${this.inputShape.join(', ')}] (${this.pixelsPerImage} values), got ${image.length}`,
          ),
        );
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ images, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    // A request still waiting here was accepted while this model served: the server is shutting down
    // or has deployed another model. It is a 503 the client can retry, not a server fault (500).
    this.fail(
      new ServiceUnavailableException(
        'The model that was embedding this request has been retired (the server is shutting down or another model was deployed): retry the request',
      ),
    );
    await this.worker.terminate();
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const parts: Pending[] = [];
    let count = 0;
    // Always take at least one request, even one larger than maxBatch.
    while (
      this.queue.length > 0 &&
      (parts.length === 0 || count + this.queue[0].images.length <= this.maxBatch)
    ) {
      const next = this.queue.shift() as Pending;
      parts.push(next);
      count += next.images.length;
    }
    const pixels = new Float32Array(count * this.pixelsPerImage);
    let offset = 0;
    for (const part of parts) {
      for (const image of part.images) {
        pixels.set(image, offset);
        offset += image.length;
      }
    }
    const id = this.nextId++;
    this.inFlight = { id, parts };
    this.worker.postMessage({ id, count, pixels } satisfies EmbedRequest, [pixels.buffer]);
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const batch = this.inFlight;
    if (!batch || batch.id !== reply.id) return;
    this.inFlight = null;
    if (reply.type === 'error') {
      for (const part of batch.parts) part.reject(new Error(`embedding failed: ${reply.message}`));
    } else {
      let row = 0;
      const dim = this.embeddingDim;
      for (const part of batch.parts) {
        const vectors = part.images.map((_, i) =>
          reply.vectors.slice((row + i) * dim, (row + i + 1) * dim),
        );
        row += part.images.length;
        part.resolve(vectors);
      }
    }
    this.pump();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const waiting = [...(this.inFlight?.parts ?? []), ...this.queue.splice(0)];
    this.inFlight = null;
    for (const part of waiting) part.reject(error);
  }
}
