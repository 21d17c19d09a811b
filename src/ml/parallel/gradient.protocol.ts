/** Messages between the trainer and its gradient workers (data-parallel training of the real models). */
import type { Tensor } from '@tensorflow/tfjs';
import type { CreateEmbeddingModelOptions } from '../models';

export interface GradientWorkerSetup {
  model: CreateEmbeddingModelOptions;
  loss: { name: string; options: Record<string, number> };
  defense: { name: string; options: Record<string, number> };
  /** TFJS_BACKEND for the worker; undefined picks the fastest that starts. */
  backend?: string;
}

export type GradientRequest =
  | { kind: 'init'; setup: GradientWorkerSetup }
  /**
   * Loss and gradients of one shard at the given parameters: every model weight (trainable and not, in
   * `model.weights` order) then the loss's variables, flattened. Stateless apart from the weights sent.
   */
  | {
      kind: 'gradients';
      weights: Float32Array;
      images: Float32Array;
      labels: Int32Array;
      step: number;
    };

export type GradientResult =
  | { kind: 'ready'; backend: string; trainable: number; weights: number }
  | {
      kind: 'gradients';
      loss: number;
      /** Gradients of the trainable model weights then the loss variables, flattened. */
      gradients: Float32Array;
      /** Which of those variables received a gradient (the others are zero-filled). */
      present: boolean[];
      /** The non-trainable weights (batch-norm moving statistics) after the shard's forward pass. */
      nonTrainable: Float32Array;
    };

/** Tensors' values end to end in one Float32Array: how weights and gradients cross the thread boundary. */
export function flatValues(tensors: Tensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}
