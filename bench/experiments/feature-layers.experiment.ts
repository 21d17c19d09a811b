/**
 * Experiment: retrieval with frozen MobileNetV2 features taken at different depths, pooled or flattened,
 * against raw pixels, on a data set's test (or training) classes at 64x64. It is how the `mobilenetv2-mid`
 * cut was chosen. Run:
 *   node -r @swc-node/register bench/experiments/feature-layers.experiment.ts iconify|emoji [MAX] [test|train]
 * Prints one JSON line per feature; the last line holds them all.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { concatFloat32 } from '../../src/ml/data/arrays';
import { loadDataset } from '../../src/ml/data';
import { evaluateRetrieval } from '../../src/ml/metrics/retrieval';
import { loadMobileNetV2Features } from '../../src/ml/models/mobilenet-v2';
import { runMain } from '../lib/args';

const SIZE = 64;
const LAYERS = ['block_6_expand_relu', 'block_13_expand_relu', 'block_16_project_BN', 'out_relu'];
const BATCH = 128;

async function main(): Promise<void> {
  const [dataset = 'iconify', maxArg = '1500', part = 'test'] = process.argv.slice(2);
  const max = Number(maxArg);
  await initBackend('wasm');
  const split = await loadDataset(dataset, {
    seed: 0,
    imageSize: { height: SIZE, width: SIZE, channels: 3 },
    maxTest: part === 'test' ? max : 0,
    maxTrain: part === 'train' ? max : 0,
    maxValidation: 0,
  });
  const set = part === 'train' ? split.train : split.test;
  const count = set.labels.length;
  const pixelsPerImage = SIZE * SIZE * 3;
  const features = await loadMobileNetV2Features([SIZE, SIZE, 3]);
  const probe = tf.model({
    inputs: features.inputs,
    outputs: LAYERS.map((name) => features.getLayer(name).output as tf.SymbolicTensor),
  });
  const parts = new Map<string, Float32Array[]>();
  const keep = (name: string, values: Float32Array) =>
    parts.set(name, [...(parts.get(name) ?? []), values]);
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    const outputs = tf.tidy(() => {
      const images = tf.tensor4d(
        set.images.subarray(start * pixelsPerImage, (start + n) * pixelsPerImage),
        [n, SIZE, SIZE, 3],
      );
      const maps = probe.predict(images) as tf.Tensor4D[];
      return maps.map((map) => ({
        pooled: tf.mean(map, [1, 2]).dataSync() as Float32Array,
        flat: map.reshape([n, -1]).dataSync() as Float32Array,
      }));
    });
    outputs.forEach((out, i) => {
      keep(`${LAYERS[i]} pooled`, out.pooled);
      keep(`${LAYERS[i]} flattened`, out.flat);
    });
  }
  probe.dispose(); // also disposes the layers it shares with `features`
  const rows: Record<string, unknown>[] = [];
  const report = (name: string, embeddings: Float32Array, dim: number) => {
    const m = evaluateRetrieval(embeddings, dim, set.labels, { seed: 0 });
    const row = { name, dim, recallAt1: m.recallAt1, mapAtR: m.mapAtR };
    rows.push(row);
    console.log(JSON.stringify(row));
  };
  report('raw pixels', set.images, pixelsPerImage);
  for (const [name, chunks] of parts) {
    const all = concatFloat32(chunks);
    report(name, all, all.length / count);
  }
  console.log(JSON.stringify({ dataset, part, images: count, rows }));
}

runMain('feature-layers', main);
