/**
 * Worker-thread entry: loads one model version with its own tfjs backend and embeds batches of
 * decoded images, so embedding never runs on the HTTP event loop. Framework-free.
 */
import { parentPort } from 'worker_threads';
import { initBackend } from '../../ml/backend';
import { threadData } from '../../workers/thread';
import { embedBatchAsync } from './embed-batch';
import { loadEmbedder } from './load-embedder';
import type { EmbedRequest, WorkerReply, EmbeddingWorkerData } from './embedding.protocol';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('embedding.worker must run in a worker thread');
  // Before the backend starts any threads of its own: they inherit this thread's nice value.
  const {
    data: { modelDir, backend },
    nice,
  } = threadData<EmbeddingWorkerData>();
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

  // Read back asynchronously: webgpu in Node has no synchronous read, and on the other backends it
  // costs a microtask. The parent keeps one batch in flight, so replies stay in order.
  port.on('message', async (request: EmbedRequest) => {
    try {
      const vectors = await embedBatchAsync(embedder, request.pixels, request.count);
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
