/**
 * Loads a model version directory (tfjs layers model files + manifest.json) as an Embedder, in the
 * thread that calls it. The only place the embedding worker touches the model format.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { EmbeddingModel, type EmbeddingModelSpec } from '../../../ml/models';

interface WeightsManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

function specFrom(manifest: Record<string, unknown>): EmbeddingModelSpec {
  const source = (manifest.spec ?? manifest) as Partial<EmbeddingModelSpec>;
  const { backbone, inputShape, embeddingDim } = source;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || typeof embeddingDim !== 'number') {
    throw new Error('manifest.json must name inputShape [h, w, c] and embeddingDim');
  }
  return {
    backbone: backbone ?? 'small-cnn',
    inputShape: inputShape as [number, number, number],
    embeddingDim,
    normalization: source.normalization ?? { scale: 1, offset: 0 },
    head: source.head ?? true,
  };
}

export async function loadEmbedder(dir: string): Promise<EmbeddingModel> {
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const spec = specFrom(manifest);
  const artifacts = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: WeightsManifestGroup[];
  };
  const weightSpecs = artifacts.weightsManifest.flatMap((group) => group.weights);
  const shards = await Promise.all(
    artifacts.weightsManifest
      .flatMap((group) => group.paths)
      .map((file) => fs.readFile(path.join(dir, file))),
  );
  const joined = Buffer.concat(shards);
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs, weightData }),
  );
  return new EmbeddingModel(model, spec);
}
