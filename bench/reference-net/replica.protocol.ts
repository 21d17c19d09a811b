/** Messages between the data-parallel coordinator and its replica workers (one wasm backend each). */
export interface ReplicaConfig {
  size: number;
  channels: number;
  seed: number;
  fused: boolean;
  /** TFJS_BACKEND for the worker; undefined picks the fastest that starts. */
  backend?: string;
  learningRate: number;
}

export type ReplicaRequest =
  | { kind: 'init'; config: ReplicaConfig }
  /** Loss and flattened parameter gradients of one shard (no update). */
  | { kind: 'gradients'; images: Float32Array; labels: Int32Array }
  /** An Adam step with gradients already averaged over all shards. */
  | { kind: 'apply'; gradients: Float32Array }
  | { kind: 'infer'; images: Float32Array }
  | { kind: 'pgd'; images: Float32Array; labels: Int32Array; stepSize: number }
  | { kind: 'params' };

export type ReplicaResult =
  | { kind: 'ready'; backend: string }
  | { kind: 'gradients'; loss: number; gradients: Float32Array }
  | { kind: 'applied' }
  | { kind: 'tensor'; values: Float32Array };
