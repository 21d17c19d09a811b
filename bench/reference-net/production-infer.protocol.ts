/** Messages to the inference threads of the production benchmark (production-infer.worker.ts). */
import type { CreateEmbeddingModelOptions } from '../../src/ml/models';

export type InferRequest =
  | { kind: 'init'; backend?: string; model: CreateEmbeddingModelOptions }
  | { kind: 'embed'; pixels: Float32Array; count: number };

export type InferResult = { kind: 'ready'; backend: string } | { kind: 'embedded'; count: number };
