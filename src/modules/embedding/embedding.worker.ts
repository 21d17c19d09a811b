/**
 * Worker-thread entry: loads one model version with its own tfjs backend and embeds batches of
 * decoded images, so embedding never runs on the HTTP event loop. Framework-free.
 */
import { parentPort, workerData } from 'worker_threads';
import { lowerThreadPriority } from '../../common/thread-priority';
import { initBackend } from '../../ml/backend';
import { embedBatch } from './embed-batch';
import { loadEmbedder } from './load-embedder';
import type { EmbedRequest, WorkerReply, EmbeddingWorkerData } from './embedding.protocol';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('embedding.worker must run in a worker thread');
  const { modelDir, backend, nice: wantedNice } = workerData as EmbeddingWorkerData;
  // Before the backend starts any threads of its own: they inherit this thread's nice value.
  const nice = lowerThreadPriority(wantedNice ?? 0);
  let embedder: Awaited<ReturnType<typeof loadEmbedder>>;
  try {
    await initBackend(backend);
    embedder = await loadEmbedder(modelDir);
  } catch (error) {
    port.postMessage({ type: 'failed', message: (error as Error).message } satisfies WorkerReply);
    return;
  }
  port.postMessage({
    type: 'ready',
    embeddingDim: embedder.embeddingDim,
    inputShape: embedder.inputShape,
    nice,
  } satisfies WorkerReply);

  port.on('message', (request: EmbedRequest) => {
    try {
      const vectors = embedBatch(embedder, request.pixels, request.count);
      port.postMessage({ type: 'result', id: request.id, vectors } satisfies WorkerReply, [
        vectors.buffer,
      ]);
    } catch (error) {
      port.postMessage({
        type: 'error',
        id: request.id,
        message: (error as Error).message,
      } satisfies WorkerReply);
    }
  });
}

void main();
