/**
 * Tiny real models for the probe tests: an MLP (784 -> 64 -> 32) trained for a few steps on MNIST's
 * training classes (semi-hard triplet loss), naturally or with the panum defence, saved as a model version directory. Trained
 * models are cached under the OS temp dir (keyed by their settings) so spec files share them.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../src/ml/backend';
import { loadDataset, MPerClassSampler, gatherImages } from '../../src/ml/data';
import { createDefense } from '../../src/ml/defenses';
import { tripletLoss } from '../../src/ml/losses';
import { saveModel } from '../../src/ml/model-store';
import { EmbeddingModel } from '../../src/ml/models';
import type { ImageSet } from '../../src/ml/types';
import type { TestApp } from '../utils/create-test-app';

export interface TinyModelOptions {
  defense: 'none' | 'panum';
  /** Training steps (0: random weights). */
  steps: number;
  seed?: number;
}

const CACHE = path.join(os.tmpdir(), 'rir-probe-test-models');

function buildMlp(seed: number): EmbeddingModel {
  const input = tf.input({ shape: [28, 28, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const hidden = tf.layers
    .dense({ units: 64, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed }) })
    .apply(flat) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 32, kernelInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }) })
    .apply(hidden) as tf.SymbolicTensor;
  return new EmbeddingModel(tf.model({ inputs: input, outputs: out }), {
    backbone: 'small-cnn',
    inputShape: [28, 28, 1],
    embeddingDim: 32,
    normalization: { scale: 1, offset: -0.5 },
    head: true,
  });
}

function train(model: EmbeddingModel, data: ImageSet, options: TinyModelOptions): void {
  const seed = options.seed ?? 0;
  const defense = createDefense(options.defense, { eps: 0.3, steps: 3, seed });
  // Semi-hard mining: batch-hard from scratch collapses this MLP (mean pairwise distance ~0.02).
  const loss = tripletLoss({ mining: 'semi-hard' });
  const optimizer = tf.train.adam(0.003);
  const sampler = new MPerClassSampler(data.labels, { batchSize: 40, perClass: 8, seed });
  let step = 0;
  for (let epoch = 0; step < options.steps; epoch++) {
    for (const indices of sampler.epoch(epoch)) {
      if (step >= options.steps) break;
      const batch = gatherImages(
        { pixels: data.images, labels: data.labels, shape: data.shape },
        Array.from(indices),
      );
      const images = tf.tensor4d(batch.images, [indices.length, 28, 28, 1]);
      const labels = tf.tensor1d(batch.labels, 'int32');
      const ctx = { embedder: model, loss, batch: { images, labels }, step };
      const crafted = defense.craft(ctx);
      optimizer.minimize(() => defense.objective(ctx, crafted), false, model.trainableVariables);
      tf.dispose([...crafted, images, labels]);
      step++;
    }
  }
  optimizer.dispose();
}

/** A trained tiny model copied to DATA_DIR/models/<id> (trained once per settings, then cached). */
export async function writeTrainedModel(
  dataDir: string,
  id: string,
  options: TinyModelOptions,
): Promise<string> {
  await initBackend(process.env.TFJS_BACKEND);
  const key = `${options.defense}-${options.steps}-${options.seed ?? 0}-semihard`;
  const cached = path.join(CACHE, key);
  const ready = await fs.stat(path.join(cached, 'manifest.json')).then(
    () => true,
    () => false,
  );
  if (!ready) {
    const model = buildMlp(options.seed ?? 0);
    if (options.steps > 0) {
      const split = await loadDataset('mnist', {
        seed: 0,
        maxTrain: 2000,
        maxValidation: 0,
        maxTest: 0,
      });
      train(model, split.train, options);
    }
    // saveModel writes a sibling folder and renames it: a parallel spec never sees half a model.
    await saveModel(cached, model, {
      id: key,
      training: { note: 'tiny MLP for the probe tests', ...options },
    });
    model.dispose();
  }
  const dir = path.join(dataDir, 'models', id);
  await fs.mkdir(dir, { recursive: true });
  for (const file of ['model.json', 'weights.bin', 'manifest.json'])
    await fs.copyFile(path.join(cached, file), path.join(dir, file));
  return dir;
}

/** Held-out MNIST digits as PNGs with their labels (for a labelled gallery). */
export async function mnistPngs(
  count: number,
  seed = 0,
): Promise<{ png: Buffer; label: string }[]> {
  const split = await loadDataset('mnist', { seed, maxTrain: 0, maxValidation: 0, maxTest: count });
  const per = 28 * 28;
  const out: { png: Buffer; label: string }[] = [];
  for (let i = 0; i < split.test.labels.length; i++) {
    const bytes = Buffer.alloc(per);
    for (let p = 0; p < per; p++) bytes[p] = Math.round(255 * split.test.images[i * per + p]);
    const png = await sharp(bytes, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer();
    out.push({ png, label: String(split.test.labels[i]) });
  }
  return out;
}

export interface ProbeBody {
  status: string;
  error: string | null;
  report: import('../../src/modules/probes/runner/probe-report').ProbeReport | null;
  progress: Record<string, unknown> | null;
}

/** Polls GET /v1/probes/:id until the probe has finished; fails the test on a failed probe. */
export async function waitForProbe(t: TestApp, key: string, id: string): Promise<ProbeBody> {
  for (;;) {
    const res = await t.http.get(`/v1/probes/${id}`).set('x-api-key', key);
    if (res.status !== 200)
      throw new Error(`GET probe ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as ProbeBody;
    if (body.status === 'failed') throw new Error(`probe ${id} failed: ${body.error}`);
    if (body.status === 'succeeded' || body.status === 'cancelled') return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
