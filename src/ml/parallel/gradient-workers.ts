/**
 * Data-parallel training of the real embedding models (small CNN, MobileNetV2) across worker threads,
 * one wasm backend per core. The trainer keeps the only model and optimizer (so checkpoints, validation
 * and the saved model are unchanged); each step it sends the current weights and one shard of the batch
 * to each worker, averages the shard gradients (weighted by shard size, in shard order) and the batch-norm
 * moving statistics, and applies one optimizer step itself.
 *
 * Shards are whole classes of the m-per-class batch. The result depends on the shard count, never on the
 * worker count: one worker computing both shards of a 2-shard step gives the same loss curve as two
 * workers. As with PyTorch DDP, mining (batch-hard) sees only its own shard, so 2 shards do not give the
 * curve of 1 shard. A loss that draws random numbers as it goes (margin) keeps one stream per worker, so
 * for it the curve also depends on the worker count.
 */
import * as tf from '@tensorflow/tfjs';
import type { EmbeddingModel } from '../models';
import type { StepGradients } from '../training/step';
import { WorkerPool } from '../../workers/pool';
import { workerEntry } from '../../workers/thread';
import {
  flatValues,
  type GradientRequest,
  type GradientResult,
  type GradientWorkerSetup,
} from './gradient.protocol';

export type { GradientWorkerSetup };

/** Contiguous shards of whole classes: [from, to) image ranges of an m-per-class batch. */
export function classShards(
  batch: number,
  perClass: number,
  shards: number,
): Array<[number, number]> {
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`shards must be a positive integer (got ${shards})`);
  const classes = batch / perClass;
  if (!Number.isInteger(classes))
    throw new Error(`batch of ${batch} is not a whole number of classes of ${perClass}`);
  if (classes < shards)
    throw new Error(
      `a batch of ${classes} classes cannot be cut into ${shards} shards of whole classes`,
    );
  return Array.from({ length: shards }, (_, s) => [
    Math.round((classes * s) / shards) * perClass,
    Math.round((classes * (s + 1)) / shards) * perClass,
  ]);
}

function expectGradients(result: GradientResult): Extract<GradientResult, { kind: 'gradients' }> {
  if (result.kind !== 'gradients')
    throw new Error(`gradient worker answered '${result.kind}', expected 'gradients'`);
  return result;
}

export class GradientWorkers {
  private constructor(
    private readonly pool: WorkerPool<GradientRequest, GradientResult>,
    readonly shards: number,
    readonly backend: string,
  ) {}

  /** Starts `workers` threads, each building the model, loss and defence from `setup`. */
  static async start(
    setup: GradientWorkerSetup,
    workers: number,
    shards = workers,
  ): Promise<GradientWorkers> {
    if (!Number.isInteger(shards) || shards < 1)
      throw new Error(`shards must be a positive integer (got ${shards})`);
    const pool = WorkerPool.start<GradientRequest, GradientResult>(
      workerEntry(__dirname, 'gradient.worker'),
      workers,
    );
    try {
      const answers = await pool.broadcast({ kind: 'init', setup });
      const ready = answers[0];
      if (ready.kind !== 'ready') throw new Error(`gradient worker answered '${ready.kind}'`);
      return new GradientWorkers(pool, shards, ready.backend);
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  get workers(): number {
    return this.pool.size;
  }

  /**
   * The batch loss and averaged gradients of `variables` (the model's trainable weights then the loss
   * variables, as the trainer's optimizer sees them) at the model's current weights. Writes the averaged
   * batch-norm moving statistics into the model, as a single-thread training step would have.
   */
  async computeGradients(
    model: EmbeddingModel,
    lossVariables: tf.Variable[],
    variables: tf.Variable[],
    images: Float32Array,
    labels: Int32Array,
    perClass: number,
    step: number,
  ): Promise<StepGradients> {
    const batch = labels.length;
    const per = images.length / batch;
    const bounds = classShards(batch, perClass, this.shards);
    const weights = flatValues([...model.model.weights.map((w) => w.read()), ...lossVariables]);
    const results: Array<Extract<GradientResult, { kind: 'gradients' }>> = new Array(bounds.length);
    // Shards dealt round-robin; each worker runs its shards one after the other.
    await Promise.all(
      Array.from({ length: this.workers }, async (_, worker) => {
        for (let s = worker; s < bounds.length; s += this.workers) {
          const [from, to] = bounds[s];
          const answer = await this.pool.call(worker, {
            kind: 'gradients',
            weights,
            images: images.slice(from * per, to * per),
            labels: labels.slice(from, to),
            step,
          });
          results[s] = expectGradients(answer);
        }
      }),
    );
    let loss = 0;
    const gradients = new Float32Array(results[0].gradients.length);
    const nonTrainable = new Float32Array(results[0].nonTrainable.length);
    const present = variables.map(() => false);
    results.forEach((result, s) => {
      const weight = (bounds[s][1] - bounds[s][0]) / batch;
      loss += weight * result.loss;
      for (let i = 0; i < gradients.length; i++) gradients[i] += weight * result.gradients[i];
      for (let i = 0; i < nonTrainable.length; i++)
        nonTrainable[i] += weight * result.nonTrainable[i];
      result.present.forEach((p, i) => (present[i] ||= p));
    });
    if (!Number.isFinite(loss))
      throw new Error(`training loss is not finite (${loss}) at step ${step}`);
    if (present.length !== variables.length)
      throw new Error(
        `gradient workers train ${present.length} variables, the trainer ${variables.length}`,
      );
    let offset = 0;
    for (const weight of model.model.nonTrainableWeights) {
      const size = weight.shape.reduce((a, b) => (a as number) * (b as number), 1) as number;
      const value = tf.tensor(nonTrainable.slice(offset, offset + size), weight.shape as number[]);
      weight.write(value);
      value.dispose();
      offset += size;
    }
    const grads: tf.NamedTensorMap = {};
    offset = 0;
    variables.forEach((variable, i) => {
      const size = variable.size;
      if (present[i])
        grads[variable.name] = tf.tensor(gradients.slice(offset, offset + size), variable.shape);
      offset += size;
    });
    return { loss, grads };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
