/**
 * Throughput of the production models through the production code (`rir bench --modes small-cnn:train,...`),
 * timed like the reference net (median of the timed repetitions after the warm-ups, images per second) and
 * against their PyTorch counterparts (torch_production.py beside this file) in the same run.
 *
 * Nothing here re-implements a model or a step: the model is the one `createEmbeddingModel` builds for the
 * trainer, the loss `createLoss('triplet')` (batch-hard, margin 0.2), the defence `createDefense` (panum
 * with 7 PGD steps), the step the trainer's own `computeGradientsAsync` + `applyGradients` with its Adam (`createAdam`),
 * and with more than one worker the trainer's data-parallel path (`GradientWorkers`, one shard of whole
 * classes per worker). Inference is the embedding worker's `embedBatchAsync` (inference mode, L2-normalised);
 * with N workers, N threads each embed 1/N of the batch (what N embedding workers would do).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { createDefense } from '../../src/ml/defenses';
import { createLoss } from '../../src/ml/losses';
import { backboneChannels, createEmbeddingModel, type BackboneName } from '../../src/ml/models';
import { GradientWorkers } from '../../src/ml/parallel/gradient-workers';
import { TRAINING_DEFAULTS } from '../../src/ml/training/config';
import { createAdam } from '../../src/ml/training/adam';
import { applyGradients, computeGradientsAsync } from '../../src/ml/training/step';
import { embedBatchAsync } from '../../src/modules/embedding/embed-batch';
import { WorkerPool } from '../../src/workers/pool';
import { round } from '../lib/stats';
import {
  randomImages,
  runTorchScript,
  timeMedian,
  type BenchRow,
  type TorchBaseline,
} from './benchmark';
import type { InferRequest, InferResult } from './production-infer.protocol';

export type ProductionModel = 'small-cnn' | 'mobilenetv2-early';
export type ProductionStep = 'train' | 'panum7' | 'infer';
export type ProductionMode = `${ProductionModel}:${ProductionStep}`;

export const PRODUCTION_MODES: ProductionMode[] = [
  'small-cnn:train',
  'small-cnn:panum7',
  'small-cnn:infer',
  'mobilenetv2-early:train',
  'mobilenetv2-early:infer',
];

/** PGD steps of the panum mode (the other defence options are panum's defaults: eps 8/255, step 2.5 eps / steps). */
export const PANUM_STEPS = 7;

export interface ProductionShape {
  /** Input height = width. */
  size: number;
  /** Training batch (the trainer's default, 128). */
  batch: number;
  /** Images per class in a training batch, as the m-per-class sampler draws them. */
  perClass: number;
  /** Inference batch: the embedding worker's largest batch (256). */
  inferBatch: number;
}

/**
 * The shapes the trainer trains these models at. small-cnn: MNIST (28x28x1; its 5 training classes give
 * defaultPerClass(128, 5) = 32: 4 classes of 32). mobilenetv2-early: 64x64x3 (`--image-size 64`) on a data
 * set with many classes (iconify, emoji): 32 classes of 4.
 */
export const PRODUCTION_SHAPES: Record<ProductionModel, ProductionShape> = {
  'small-cnn': { size: 28, batch: TRAINING_DEFAULTS.batchSize, perClass: 32, inferBatch: 256 },
  'mobilenetv2-early': {
    size: 64,
    batch: TRAINING_DEFAULTS.batchSize,
    perClass: 4,
    inferBatch: 256,
  },
};

export function isProductionMode(mode: string): mode is ProductionMode {
  return (PRODUCTION_MODES as string[]).includes(mode);
}

export function splitMode(mode: ProductionMode): [ProductionModel, ProductionStep] {
  const [model, step] = mode.split(':') as [ProductionModel, ProductionStep];
  return [model, step];
}

export interface ProductionBenchOptions {
  model: ProductionModel;
  steps: ProductionStep[];
  /** 1: the trainer's single-thread path; more: its gradient workers (train, panum7) or infer threads. */
  workers: number;
  reps: number;
  warmup: number;
  /** Smaller shapes (tests); default PRODUCTION_SHAPES[model]. */
  shape?: ProductionShape;
  backend?: string;
  seed?: number;
}

/** labels = index div perClass: whole classes in a row, as the m-per-class sampler lays a batch out. */
export function classLabels(batch: number, perClass: number): Int32Array {
  return Int32Array.from({ length: batch }, (_, i) => Math.floor(i / perClass));
}

function checkShape(shape: ProductionShape, workers: number): void {
  const { batch, perClass, inferBatch } = shape;
  if (batch % perClass !== 0 || batch / perClass < 2)
    throw new Error(`batch ${batch} must hold at least 2 whole classes of ${perClass}`);
  if (batch / perClass < workers)
    throw new Error(`a batch of ${batch / perClass} classes cannot feed ${workers} workers`);
  if (inferBatch < workers)
    throw new Error(`inference batch ${inferBatch} is smaller than ${workers} workers`);
}

/** Times the given steps of one production model; rows as the reference net's (framework tfjs). */
export async function benchProductionModel(options: ProductionBenchOptions): Promise<BenchRow[]> {
  const { model: backbone, workers } = options;
  const shape = options.shape ?? PRODUCTION_SHAPES[backbone];
  checkShape(shape, workers);
  const seed = options.seed ?? 1;
  const info = await initBackend(options.backend);
  const channels = backboneChannels(backbone as BackboneName);
  const inputShape: [number, number, number] = [shape.size, shape.size, channels];
  const rows: BenchRow[] = [];
  const row = (step: ProductionStep, batch: number, ms: number): BenchRow => ({
    framework: 'tfjs',
    backend: info.name,
    mode: `${backbone}:${step}`,
    height: shape.size,
    channels,
    batch,
    threads: workers,
    median_ms: round(ms, 2),
    img_per_s: round((batch * 1000) / ms, 1),
  });
  for (const step of options.steps) {
    if (step === 'infer') {
      const images = randomImages(shape.inferBatch, shape.size ** 2 * channels, 2);
      const ms = await timeInference(backbone, inputShape, images, shape.inferBatch, options);
      rows.push(row(step, shape.inferBatch, ms));
    } else {
      const ms = await timeTrainingStep(backbone, inputShape, step, shape, options, seed);
      rows.push(row(step, shape.batch, ms));
    }
  }
  return rows;
}

/**
 * The trainer's step as `trainEmbeddingModel` runs it: the batch's tensors from its pixels, the defence's
 * gradients (computeGradientsAsync here, or GradientWorkers with more than one worker), one Adam step.
 */
async function timeTrainingStep(
  backbone: ProductionModel,
  inputShape: [number, number, number],
  step: Exclude<ProductionStep, 'infer'>,
  shape: ProductionShape,
  options: ProductionBenchOptions,
  seed: number,
): Promise<number> {
  const { workers } = options;
  const defenseName = step === 'panum7' ? 'panum' : 'none';
  const defenseOptions: Record<string, number> =
    step === 'panum7' ? { seed, steps: PANUM_STEPS } : { seed };
  const model = await createEmbeddingModel({ backbone, inputShape, seed });
  const loss = createLoss('triplet', { seed });
  const defense = createDefense(defenseName, defenseOptions);
  const optimizer = createAdam({ learningRate: TRAINING_DEFAULTS.learningRate });
  const variables = [...model.trainableVariables, ...loss.variables];
  const pixels = randomImages(shape.batch, inputShape[0] * inputShape[1] * inputShape[2], 1);
  const labels = classLabels(shape.batch, shape.perClass);
  let parallel: GradientWorkers | null = null;
  let globalStep = 0;
  try {
    if (workers > 1)
      parallel = await GradientWorkers.start(
        {
          model: { backbone, inputShape, embeddingDim: model.embeddingDim, seed },
          loss: { name: 'triplet', options: { seed } },
          defense: { name: defenseName, options: defenseOptions },
          backend: options.backend,
        },
        workers,
      );
    const trainStep = async () => {
      if (parallel) {
        const result = await parallel.computeGradients(
          model,
          loss.variables,
          variables,
          pixels,
          labels,
          shape.perClass,
          globalStep,
        );
        applyGradients(optimizer, result.grads);
      } else {
        const images = tf.tensor4d(pixels, [shape.batch, ...inputShape]);
        const labelTensor = tf.tensor1d(labels, 'int32');
        try {
          const result = await computeGradientsAsync(
            model,
            variables,
            defense,
            loss.compute,
            { images, labels: labelTensor, classRows: shape.batch },
            globalStep,
          );
          applyGradients(optimizer, result.grads);
        } finally {
          tf.dispose([images, labelTensor]);
        }
      }
      globalStep++;
    };
    return await timeMedian(trainStep, options.warmup, options.reps);
  } finally {
    await parallel?.close();
    model.dispose();
    loss.dispose();
    optimizer.dispose();
    defense.inner?.dispose();
  }
}

/** The embedding worker's step (embedBatchAsync) on this thread, or on N threads with 1/N of the batch each. */
async function timeInference(
  backbone: ProductionModel,
  inputShape: [number, number, number],
  images: Float32Array,
  batch: number,
  options: ProductionBenchOptions,
): Promise<number> {
  const seed = options.seed ?? 1;
  if (options.workers === 1) {
    const model = await createEmbeddingModel({ backbone, inputShape, seed });
    try {
      return await timeMedian(
        () => embedBatchAsync(model, images, batch),
        options.warmup,
        options.reps,
      );
    } finally {
      model.dispose();
    }
  }
  const pool = WorkerPool.start<InferRequest, InferResult>(
    path.join(__dirname, `production-infer.worker${path.extname(__filename)}`),
    options.workers,
  );
  try {
    await pool.broadcast({
      kind: 'init',
      backend: options.backend,
      model: { backbone, inputShape, seed },
    });
    const per = images.length / batch;
    const bounds = Array.from({ length: options.workers }, (_, w) => [
      Math.round((batch * w) / options.workers),
      Math.round((batch * (w + 1)) / options.workers),
    ]);
    const shards = bounds.map(([from, to]) => ({
      pixels: images.slice(from * per, to * per),
      count: to - from,
    }));
    return await timeMedian(
      () => Promise.all(shards.map((shard, w) => pool.call(w, { kind: 'embed', ...shard }))),
      options.warmup,
      options.reps,
    );
  } finally {
    await pool.close();
  }
}

/** The PyTorch counterparts of this repository, relative to its root. */
export const TORCH_PRODUCTION_SCRIPT = 'bench/reference-net/torch_production.py';

export interface TorchProductionOptions {
  model: ProductionModel;
  steps: ProductionStep[];
  threads: number;
  reps: number;
  warmup: number;
  shape?: ProductionShape;
}

function torchArgs(model: ProductionModel, shape: ProductionShape): string[] {
  return [
    '--model',
    model,
    '--size',
    String(shape.size),
    '--batch',
    String(shape.batch),
    '--per-class',
    String(shape.perClass),
    '--infer-batch',
    String(shape.inferBatch),
  ];
}

/** Runs the PyTorch counterpart of one model; never throws (a failing script is reported, not fatal). */
export function runTorchProduction(
  python: string,
  script: string,
  options: TorchProductionOptions,
): TorchBaseline {
  const { model, steps, threads, reps, warmup } = options;
  const shape = options.shape ?? PRODUCTION_SHAPES[model];
  const args = [
    ...torchArgs(model, shape),
    '--modes',
    steps.join(','),
    '--threads',
    String(threads),
    '--reps',
    String(reps),
    '--warmup',
    String(warmup),
  ];
  return runTorchScript(python, script, args, 30 * 60 * 1000);
}

export interface ModelDescription {
  model: ProductionModel;
  /** Every weight: trainable parameters and batch-norm moving statistics. */
  params: number;
  trainable: number;
  /** Layers with weights, in order, with their weight counts. */
  layers: Array<{ kind: string; params: number }>;
}

/** What the PyTorch counterpart builds (`--describe`), for comparison with describeTfjsModel. */
export function describeTorchModel(
  python: string,
  script: string,
  model: ProductionModel,
  shape: ProductionShape = PRODUCTION_SHAPES[model],
): ModelDescription {
  const result = spawnSync(python, [script, ...torchArgs(model, shape), '--describe'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.error || result.status !== 0)
    throw new Error(
      `${script} --describe failed: ${result.error?.message ?? result.stderr.trim().split('\n').pop()}`,
    );
  return JSON.parse(result.stdout) as ModelDescription;
}

/** Layer kinds as both sides name them: convolutions, depthwise convolutions, batch norms, dense. */
const KIND_OF_CLASS: Record<string, string> = {
  Conv2D: 'conv',
  DepthwiseConv2D: 'depthwise',
  BatchNormalization: 'batchnorm',
  Dense: 'dense',
};

/** The same description of the model the trainer builds (tfjs). */
export async function describeTfjsModel(
  model: ProductionModel,
  shape: ProductionShape = PRODUCTION_SHAPES[model],
): Promise<ModelDescription> {
  const channels = backboneChannels(model as BackboneName);
  const built = await createEmbeddingModel({
    backbone: model,
    inputShape: [shape.size, shape.size, channels],
    seed: 1,
  });
  try {
    const count = (weights: tf.LayerVariable[]) =>
      weights.reduce((n, w) => n + tf.util.sizeFromShape(w.shape as number[]), 0);
    return {
      model,
      params: built.model.countParams(),
      trainable: count(built.model.trainableWeights),
      layers: built.model.layers
        .filter((layer) => layer.countParams() > 0)
        .map((layer) => ({
          kind: KIND_OF_CLASS[layer.getClassName()] ?? layer.getClassName(),
          params: layer.countParams(),
        })),
    };
  } finally {
    built.dispose();
  }
}
