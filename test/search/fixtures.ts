/**
 * Helpers for the gallery and search e2e tests: tiny model versions written in the tfjs format the
 * service loads, tiny PNGs, and waiting for a deploy.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../src/ml/backend';
import { EmbeddingModel } from '../../src/ml/models';
import { saveModel } from '../../src/ml/model-store';
import type { TestApp } from '../utils/create-test-app';

export const TINY_SIZE = 8;

/**
 * Writes a tiny embedding model (8x8 grey -> dense 16, random weights from `seed`) as a model version
 * directory DATA_DIR/models/<id>: model.json + weights.bin + manifest.json.
 */
export async function writeTinyModel(
  dataDir: string,
  id: string,
  seed: number,
  dim = 16,
): Promise<string> {
  await initBackend(process.env.TFJS_BACKEND);
  const dir = path.join(dataDir, 'models', id);
  const input = tf.input({ shape: [TINY_SIZE, TINY_SIZE, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: dim,
      kernelInitializer: tf.initializers.glorotNormal({ seed }),
      biasInitializer: 'zeros',
    })
    .apply(flat) as tf.SymbolicTensor;
  const model = new EmbeddingModel(tf.model({ inputs: input, outputs: output }), {
    backbone: 'small-cnn',
    inputShape: [TINY_SIZE, TINY_SIZE, 1],
    embeddingDim: dim,
    normalization: { scale: 1, offset: 0 },
    head: true,
  });
  await saveModel(dir, model, { id, training: { note: 'tiny random model for tests' } });
  model.dispose();
  return dir;
}

/** A deterministic 8x8 grey PNG; different seeds give clearly different images. */
export async function tinyPng(seed: number, size = TINY_SIZE): Promise<Buffer> {
  const pixels = Buffer.alloc(size * size);
  let state = seed * 7919 + 17;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    pixels[i] = state >>> 24;
  }
  return sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer();
}

/** Deploys a model through the API and waits until it serves searches. */
export async function deployAndWait(t: TestApp, id: string): Promise<void> {
  const accepted = await t.http.post(`/v1/models/${id}/deploy`).set('x-api-key', t.adminKey);
  if (accepted.status !== 202)
    throw new Error(
      `deploy of ${id} answered ${accepted.status}: ${JSON.stringify(accepted.body)}`,
    );
  for (;;) {
    const model = await t.http.get(`/v1/models/${id}`).set('x-api-key', t.adminKey);
    if (model.body.status === 'deployed' && model.body.active) return;
    if (model.body.status === 'failed')
      throw new Error(`deploy of ${id} failed: ${model.body.deployError}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
