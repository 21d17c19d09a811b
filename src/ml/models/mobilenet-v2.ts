import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { embeddingHead } from './layers';

/** The last feature layer of the nsfwjs MobileNetV2 (ReLU6 after Conv_1, 1280 channels). */
const FEATURE_LAYER = 'out_relu';
/**
 * A mid-level layer (ReLU6 of block 13's expansion: stride 16, 576 channels, 4x4 at 64x64). On icons and
 * emoji its flattened map retrieves far better than the last layer pooled (iconify frozen R@1 0.71 vs
 * 0.38): the network was last tuned to classify NSFW photos, and global pooling discards the layout that
 * distinguishes line drawings.
 */
export const MID_FEATURE_LAYER = 'block_13_expand_relu';
/** An earlier cut (ReLU6 of block 6's expansion: stride 8, 192 channels, 8x8 at 64x64). */
export const EARLY_FEATURE_LAYER = 'block_6_expand_relu';

const CUTS = { pooled: FEATURE_LAYER, mid: MID_FEATURE_LAYER, early: EARLY_FEATURE_LAYER } as const;

interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown[];
}

interface NsfwModelJson {
  modelTopology: {
    model_config: {
      config: { layers: KerasLayerJson[]; input_layers: unknown; output_layers: unknown };
    };
  };
  weightsManifest: tf.io.WeightsManifestConfig;
}

/* eslint-disable @typescript-eslint/no-require-imports */
function readPackagedModel(): { json: NsfwModelJson; weights: ArrayBuffer } {
  // nsfwjs ships the model JSON and the base64 weight shard as JS modules: load them offline.
  // The package's "exports" hide these files: resolve them from its entry point (dist/cjs/index.js).
  const dir = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
  const json = require(path.join(dir, 'model.min.js')) as NsfwModelJson;
  const shard = require(path.join(dir, 'group1-shard1of1.min.js')) as string;
  const bytes = Buffer.from(shard, 'base64');
  return {
    json,
    weights: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  };
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The ImageNet-derived MobileNetV2 inside npm nsfwjs, rebuilt for a smaller input (it is fully
 * convolutional up to the pooling) and cut after its last conv block: output [B, H/32, W/32, 1280].
 * Its input is pixels in [0,1], as nsfwjs feeds it.
 */
export async function loadMobileNetV2Features(
  inputShape: [number, number, number],
  featureLayer = FEATURE_LAYER,
): Promise<tf.LayersModel> {
  const [height, width, channels] = inputShape;
  if (channels !== 3)
    throw new Error(`mobilenetv2 needs RGB input [H, W, 3], got [${inputShape.join(', ')}]`);
  if (height < 32 || width < 32)
    throw new Error(`mobilenetv2 needs input of at least 32x32, got ${height}x${width}`);
  const { json, weights } = readPackagedModel();
  const config = JSON.parse(
    JSON.stringify(json.modelTopology.model_config.config),
  ) as typeof json.modelTopology.model_config.config;
  const cut = config.layers.findIndex((layer) => layer.name === featureLayer);
  if (cut < 0) throw new Error(`nsfwjs MobileNetV2 has no layer '${featureLayer}'`);
  config.layers = config.layers.slice(0, cut + 1);
  config.layers[0].config.batch_input_shape = [null, height, width, 3];
  config.output_layers = [[featureLayer, 0, 0]];
  const kept = new Set(config.layers.map((layer) => layer.name));
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  // Keep the bytes of the layers that remain; the classifier's weights are dropped.
  const parts: ArrayBuffer[] = [];
  const keptSpecs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const length = weightByteLength(spec);
    if (kept.has(spec.name.split('/')[0])) {
      parts.push(weights.slice(offset, offset + length));
      keptSpecs.push(spec);
    }
    offset += length;
  }
  if (offset !== weights.byteLength) {
    throw new Error(
      `nsfwjs weight shard holds ${weights.byteLength} bytes, its manifest describes ${offset}`,
    );
  }
  const topology = {
    ...json.modelTopology,
    model_config: { ...json.modelTopology.model_config, config },
  };
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: topology,
      weightSpecs: keptSpecs,
      weightData: concat(parts),
    }),
  );
}

function weightByteLength(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = dtype === 'uint8' ? 1 : dtype === 'uint16' || dtype === 'float16' ? 2 : 4;
  return count * bytes;
}

function concat(parts: ArrayBuffer[]): ArrayBuffer {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(new Uint8Array(part), at);
    at += part.byteLength;
  }
  return out.buffer;
}

export type MobileNetV2Variant = keyof typeof CUTS;

/**
 * MobileNetV2 features and a linear embedding head after batch norm. `pooled`: the last layer, global
 * average pooling (1280-d). `mid` / `early`: cut at MID_FEATURE_LAYER (576 x H/16 x W/16) or
 * EARLY_FEATURE_LAYER (192 x H/8 x W/8) and flattened, so the embedding keeps where things are in the
 * image. Without a head the output is those features.
 */
export async function buildMobileNetV2(
  inputShape: [number, number, number],
  embeddingDim: number,
  seed: number,
  head: boolean,
  variant: MobileNetV2Variant = 'pooled',
): Promise<tf.LayersModel> {
  const features = await loadMobileNetV2Features(inputShape, CUTS[variant]);
  let x = (
    variant === 'pooled'
      ? tf.layers.globalAveragePooling2d({ name: 'pool' })
      : tf.layers.flatten({ name: 'flatten' })
  ).apply(features.outputs[0]) as tf.SymbolicTensor;
  if (head) {
    x = tf.layers.batchNormalization({ name: 'head_bn' }).apply(x) as tf.SymbolicTensor;
    x = embeddingHead(x, embeddingDim, seed, 0);
  }
  const name = variant === 'pooled' ? 'mobilenetv2' : `mobilenetv2_${variant}`;
  return tf.model({
    inputs: features.inputs,
    outputs: x,
    name: head ? `${name}_embedding` : `${name}_features`,
  });
}
