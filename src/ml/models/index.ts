import type * as tf from '@tensorflow/tfjs';
import { EmbeddingModel, type BackboneName, type EmbeddingModelSpec } from './embedding-model';
import { buildC2f2 } from './c2f2';
import { buildMobileNetV2 } from './mobilenet-v2';
import { buildSmallCnn } from './small-cnn';

export { EmbeddingModel, checkImageBatch, l2Normalize } from './embedding-model';
export type { BackboneName, EmbeddingModelSpec, InputNormalization } from './embedding-model';
export { loadMobileNetV2Features } from './mobilenet-v2';

export const BACKBONES: BackboneName[] = [
  'small-cnn',
  'mobilenetv2',
  'mobilenetv2-mid',
  'mobilenetv2-early',
  'c2f2',
];

/** Backbones trained from scratch on grey images (one channel); the others take RGB. */
const GREY_BACKBONES: readonly BackboneName[] = ['small-cnn', 'c2f2'];

/** Channels a backbone's input has: 1 for the grey networks trained from scratch, 3 for MobileNetV2. */
export function backboneChannels(backbone: BackboneName): 1 | 3 {
  return GREY_BACKBONES.includes(backbone) ? 1 : 3;
}

const MOBILENET_VARIANTS = {
  mobilenetv2: 'pooled',
  'mobilenetv2-mid': 'mid',
  'mobilenetv2-early': 'early',
} as const;

export interface CreateEmbeddingModelOptions {
  backbone: BackboneName;
  inputShape: [number, number, number];
  /** Default 128. Ignored when head is false (the features' own width). */
  embeddingDim?: number;
  /** Seeds the weight initialisers. Default 0. */
  seed?: number;
  /** mobilenetv2*: false = the pretrained features, no head (the frozen baseline). Default true. */
  head?: boolean;
  /**
   * mobilenetv2*: train the pretrained backbone too. Default false: the nsfwjs weights load with every
   * backbone layer marked not trainable, so only the head learns (a projection of frozen features).
   */
  trainBackbone?: boolean;
}

/** `trainBackbone` only means something for a pretrained backbone: the rule the trainer and the API apply. */
export function checkTrainBackbone(backbone: BackboneName, trainBackbone: boolean | undefined): void {
  if (trainBackbone && !(backbone in MOBILENET_VARIANTS))
    throw new Error(
      `trainBackbone applies to the pretrained mobilenetv2 backbones; ${backbone} trains every layer already`,
    );
}

/**
 * Builds a fresh embedding network (small CNN, C2F2) or one initialised from pretrained weights
 * (MobileNetV2).
 */
export async function createEmbeddingModel(
  options: CreateEmbeddingModelOptions,
): Promise<EmbeddingModel> {
  const { backbone, inputShape } = options;
  const seed = options.seed ?? 0;
  const head = options.head ?? true;
  let embeddingDim = options.embeddingDim ?? 128;
  if (!Number.isInteger(embeddingDim) || embeddingDim < 1) {
    throw new Error(`embedding dim must be a positive integer (got ${embeddingDim})`);
  }
  checkTrainBackbone(backbone, options.trainBackbone);
  let model: tf.LayersModel;
  if (backbone === 'small-cnn') {
    if (!head) throw new Error('small-cnn has no pretrained features to use without a head');
    model = buildSmallCnn(inputShape, embeddingDim, seed);
  } else if (backbone === 'c2f2') {
    if (!head) throw new Error('c2f2 has no pretrained features to use without a head');
    model = buildC2f2(inputShape, embeddingDim, seed);
  } else if (backbone in MOBILENET_VARIANTS) {
    const variant = MOBILENET_VARIANTS[backbone as keyof typeof MOBILENET_VARIANTS];
    model = await buildMobileNetV2(inputShape, embeddingDim, seed, head, variant);
    // Saved with the model's topology, so a checkpoint or a fine-tune keeps the choice.
    if (options.trainBackbone) for (const layer of model.layers) layer.trainable = true;
    // Without a head the output is the features themselves, as wide as the cut makes them.
    if (!head) embeddingDim = model.outputs[0].shape[1] as number;
  } else {
    throw new Error(`unknown backbone '${String(backbone)}' (expected ${BACKBONES.join(' or ')})`);
  }
  const spec: EmbeddingModelSpec = {
    backbone,
    inputShape,
    embeddingDim,
    normalization: { scale: 1, offset: 0 },
    head,
  };
  return new EmbeddingModel(model, spec);
}
