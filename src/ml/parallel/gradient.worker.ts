/**
 * A gradient worker of the data-parallel trainer: its own wasm backend and its own copy of the model,
 * loss and defence. It holds no optimizer state: each request brings the current weights, so a shard's
 * result depends only on (weights, shard, step), whichever worker computes it.
 */
import type { TransferListItem } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { createDefense } from '../defenses';
import { createLoss, type MetricLoss } from '../losses';
import { createEmbeddingModel, type EmbeddingModel } from '../models';
import { computeGradients } from '../training/step';
import type { Defense } from '../types';
import { serveRequests } from '../../workers/pool';
import { flatValues, type GradientRequest, type GradientResult } from './gradient.protocol';

interface Replica {
  model: EmbeddingModel;
  loss: MetricLoss;
  defense: Defense;
  /** What the optimizer updates, in the trainer's order: trainable model weights, then loss variables. */
  variables: tf.Variable[];
}

let replica: Replica | null = null;

/** Writes the flattened weights (model.weights order, then the loss variables) into the replica. */
function setWeights(r: Replica, flat: Float32Array): void {
  let offset = 0;
  const take = (shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = flat.slice(offset, offset + size);
    offset += size;
    return tf.tensor(values, shape);
  };
  for (const weight of r.model.model.weights) {
    const value = take(weight.shape as number[]);
    weight.write(value);
    value.dispose();
  }
  for (const variable of r.loss.variables) {
    const value = take(variable.shape);
    variable.assign(value);
    value.dispose();
  }
  if (offset !== flat.length)
    throw new Error(`weights: received ${flat.length} values, the replica has ${offset}`);
}

async function handle(request: GradientRequest): Promise<GradientResult> {
  if (request.kind === 'init') {
    const info = await initBackend(request.setup.backend);
    const model = await createEmbeddingModel(request.setup.model);
    const loss = createLoss(request.setup.loss.name, request.setup.loss.options);
    const defense = createDefense(request.setup.defense.name, request.setup.defense.options);
    replica = { model, loss, defense, variables: [...model.trainableVariables, ...loss.variables] };
    return {
      kind: 'ready',
      backend: info.name,
      trainable: replica.variables.length,
      weights: model.model.weights.length + loss.variables.length,
    };
  }
  const r = replica;
  if (!r) throw new Error('gradient worker not initialised');
  setWeights(r, request.weights);
  const [h, w, c] = r.model.inputShape;
  const batch = request.labels.length;
  if (request.images.length !== batch * h * w * c)
    throw new Error(`images: expected ${batch} images of ${h}x${w}x${c}`);
  const images = tf.tensor4d(request.images, [batch, h, w, c]);
  const labels = tf.tensor1d(request.labels, 'int32');
  try {
    const step = computeGradients(
      r.model,
      r.variables,
      r.defense,
      r.loss.compute,
      { images, labels },
      request.step,
    );
    try {
      const present = r.variables.map((v) => step.grads[v.name] !== undefined);
      const zeros = r.variables.filter((_, i) => !present[i]).map((v) => tf.zeros(v.shape));
      let z = 0;
      const gradients = flatValues(
        r.variables.map((v, i) => (present[i] ? step.grads[v.name] : zeros[z++])),
      );
      tf.dispose(zeros);
      const nonTrainable = flatValues(r.model.model.nonTrainableWeights.map((x) => x.read()));
      return { kind: 'gradients', loss: step.loss, gradients, present, nonTrainable };
    } finally {
      tf.dispose(step.grads);
    }
  } finally {
    tf.dispose([images, labels]);
  }
}

/** Gradient buffers move to the trainer instead of being copied. */
function transferOf(result: GradientResult): TransferListItem[] {
  if (result.kind !== 'gradients') return [];
  return [result.gradients.buffer as ArrayBuffer, result.nonTrainable.buffer as ArrayBuffer];
}

serveRequests<GradientRequest, GradientResult>(handle, transferOf);
