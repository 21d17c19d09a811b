import * as tf from '@tensorflow/tfjs';
import type { Embedder } from '../types';
import { foldedSmallCnnForward } from './small-cnn';

export type BackboneName =
  | 'small-cnn'
  | 'c2f2'
  | 'mobilenetv2'
  | 'mobilenetv2-mid'
  | 'mobilenetv2-early';

/** How [0,1] pixels are mapped to the network input: x * scale + offset. Recorded in the manifest. */
export interface InputNormalization {
  scale: number;
  offset: number;
}

export interface EmbeddingModelSpec {
  backbone: BackboneName;
  inputShape: [number, number, number];
  embeddingDim: number;
  normalization: InputNormalization;
  /** false: the output is the backbone's pooled features (frozen-feature baseline), no trained head. */
  head: boolean;
}

/** Throws an error naming expected vs actual shape when a batch does not fit the model. */
export function checkImageBatch(images: tf.Tensor, inputShape: [number, number, number]): void {
  const [h, w, c] = inputShape;
  const s = images.shape;
  if (s.length !== 4 || s[1] !== h || s[2] !== w || s[3] !== c) {
    throw new Error(`expected images of shape [B, ${h}, ${w}, ${c}], got [${s.join(', ')}]`);
  }
}

/** Divides each row by its L2 norm (a small floor keeps an all-zero row finite). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-12));
    return tf.div(x, norm) as tf.Tensor2D;
  });
}

/**
 * A tf.LayersModel that outputs un-normalised embeddings, wrapped as an Embedder: pixels in [0,1] are
 * normalised for the backbone, the network runs in training or inference mode, the output is L2-normalised.
 */
export class EmbeddingModel implements Embedder {
  readonly inputShape: [number, number, number];
  readonly embeddingDim: number;
  /** Inference mode with the batch norms folded away (small CNN only; null: the layers run). */
  private readonly foldedInference: ((images: tf.Tensor4D) => tf.Tensor2D) | null;

  constructor(
    readonly model: tf.LayersModel,
    readonly spec: EmbeddingModelSpec,
  ) {
    this.inputShape = spec.inputShape;
    this.embeddingDim = spec.embeddingDim;
    const out = model.outputs[0].shape;
    if (out.length !== 2 || out[1] !== spec.embeddingDim) {
      throw new Error(`model output must be [B, ${spec.embeddingDim}], got [${out.join(', ')}]`);
    }
    this.foldedInference = spec.backbone === 'small-cnn' ? foldedSmallCnnForward(model) : null;
  }

  embed(images: tf.Tensor4D, training = false): tf.Tensor2D {
    checkImageBatch(images, this.inputShape);
    return tf.tidy(() => {
      const { scale, offset } = this.spec.normalization;
      const input =
        scale === 1 && offset === 0 ? images : (tf.add(tf.mul(images, scale), offset) as tf.Tensor4D);
      const raw =
        !training && this.foldedInference
          ? this.foldedInference(input)
          : (this.model.apply(input, { training }) as tf.Tensor2D);
      return l2Normalize(raw);
    });
  }

  /** The variables an optimizer updates (batch-norm moving statistics are not among them). */
  get trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  }

  dispose(): void {
    this.model.dispose();
  }
}
