/** Messages between ModelEmbedder (main thread) and embedding.worker. */
export interface EmbeddingWorkerData {
  modelDir: string;
  backend?: string;
}

export interface EmbedRequest {
  id: number;
  count: number;
  /** count x H x W x C pixels in [0,1], NHWC. */
  pixels: Float32Array;
}

export type WorkerReply =
  | {
      type: 'ready';
      embeddingDim: number;
      inputShape: [number, number, number];
      /** The nice value the worker thread ended up with. */
      nice: number;
    }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; vectors: Float32Array }
  | { type: 'error'; id: number; message: string };
