/**
 * One inference thread of the production benchmark: its own wasm backend and the model the trainer
 * builds, embedding its share of a batch with the embedding worker's own step (embedBatchAsync).
 */
import { initBackend } from '../../src/ml/backend';
import { createEmbeddingModel, type EmbeddingModel } from '../../src/ml/models';
import { embedBatchAsync } from '../../src/modules/embedding/embed-batch';
import { serveRequests } from '../../src/workers/pool';
import type { InferRequest, InferResult } from './production-infer.protocol';

let model: EmbeddingModel | null = null;

async function handle(request: InferRequest): Promise<InferResult> {
  if (request.kind === 'init') {
    const info = await initBackend(request.backend);
    model = await createEmbeddingModel(request.model);
    return { kind: 'ready', backend: info.name };
  }
  if (!model) throw new Error('inference worker not initialised');
  const vectors = await embedBatchAsync(model, request.pixels, request.count);
  return { kind: 'embedded', count: vectors.length / model.embeddingDim };
}

serveRequests<InferRequest, InferResult>(handle);
