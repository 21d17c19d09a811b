import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { EmbeddingModel, type BackboneName, type InputNormalization } from '../models';
import type { SplitDescription } from '../types';
import { fileSystemHandler, sha256, WEIGHTS_FILE, writeFileAtomic } from './file-io';
import { validateRobustnessBlock, type RobustnessBlock } from './robustness-block';

export const MANIFEST_FILE = 'manifest.json';

/** Everything needed to use a model version and to trace it back to its data and training. */
export interface ModelManifest {
  id: string;
  formatVersion: 1;
  backbone: BackboneName;
  inputShape: [number, number, number];
  /** Pixels in [0,1] are mapped to x * scale + offset before the network. */
  normalization: InputNormalization;
  embeddingDim: number;
  /** false for a frozen-feature model without a trained head. */
  head: boolean;
  /** Embeddings are L2-normalised; the distance is Euclidean (monotone in cosine). */
  distance: 'euclidean-l2-normalized';
  loss: { name: string; config: Record<string, unknown> } | null;
  defense: { name: string; config: Record<string, unknown> } | null;
  dataset: SplitDescription | null;
  training: Record<string, unknown> | null;
  metrics: Record<string, unknown> | null;
  weightsSha256: string;
  createdAt: string;
  /** Natural and adversarial figures with their intervals (robustness-block.ts); absent until measured. */
  robustness?: RobustnessBlock;
}

export type ManifestInput = Partial<
  Pick<ModelManifest, 'id' | 'loss' | 'defense' | 'dataset' | 'training' | 'metrics'>
>;

/**
 * Saves a model version into `dir` (other files there, such as a checkpoint folder, are kept):
 * model.json + weights.bin (tfjs layers format), then manifest.json last. Each file is replaced
 * atomically; the manifest's weights hash detects a version whose save was interrupted.
 */
export async function saveModel(
  dir: string,
  model: EmbeddingModel,
  info: ManifestInput = {},
): Promise<ModelManifest> {
  await fs.mkdir(dir, { recursive: true });
  await fs.rm(path.join(dir, MANIFEST_FILE), { force: true });
  await model.model.save(fileSystemHandler(dir));
  const weights = await fs.readFile(path.join(dir, WEIGHTS_FILE));
  const manifest: ModelManifest = {
    id: info.id ?? randomUUID(),
    formatVersion: 1,
    backbone: model.spec.backbone,
    inputShape: model.spec.inputShape,
    normalization: model.spec.normalization,
    embeddingDim: model.spec.embeddingDim,
    head: model.spec.head,
    distance: 'euclidean-l2-normalized',
    loss: info.loss ?? null,
    defense: info.defense ?? null,
    dataset: info.dataset ?? null,
    training: info.training ?? null,
    metrics: info.metrics ?? null,
    weightsSha256: sha256(weights),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`no model version at ${dir} (missing ${MANIFEST_FILE})`);
  }
  return parseManifest(text, file);
}

/**
 * A manifest from its JSON text: the format version is checked, and the robustness block, when
 * present, is validated (a malformed one is refused with a message naming the field). `file` names it
 * in errors.
 */
export function parseManifest(text: string, file: string): ModelManifest {
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
    throw new Error(`${file}: not a JSON object`);
  if (manifest.formatVersion !== 1)
    throw new Error(`${file}: unsupported format version ${String(manifest.formatVersion)}`);
  if (manifest.robustness !== undefined)
    validateRobustnessBlock(manifest.robustness, manifest.weightsSha256, file);
  return manifest;
}

/**
 * Sets fields of a stored version's manifest (its robustness block, its metrics) and replaces the file
 * atomically. The weights are not touched: they must still match the manifest's hash (a block measured
 * on other weights is refused), and the hash stays as it is.
 */
export async function updateManifest(
  dir: string,
  fields: Partial<Pick<ModelManifest, 'robustness' | 'metrics'>>,
): Promise<ModelManifest> {
  const manifest = await readManifest(dir);
  const weights = sha256(await fs.readFile(path.join(dir, WEIGHTS_FILE)));
  if (weights !== manifest.weightsSha256)
    throw new Error(
      `weights of ${dir} do not match the manifest (sha256 ${weights}, expected ${manifest.weightsSha256})`,
    );
  const file = path.join(dir, MANIFEST_FILE);
  if (fields.robustness !== undefined)
    validateRobustnessBlock(fields.robustness, manifest.weightsSha256, file);
  const next: ModelManifest = { ...manifest, ...fields };
  await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/** Loads a model version; checks the weights against the manifest's hash. */
export async function loadModelVersion(
  dir: string,
): Promise<{ model: EmbeddingModel; manifest: ModelManifest }> {
  const manifest = await readManifest(dir);
  const weights = await fs.readFile(path.join(dir, WEIGHTS_FILE));
  const hash = sha256(weights);
  if (hash !== manifest.weightsSha256) {
    throw new Error(
      `weights of ${dir} do not match the manifest (sha256 ${hash}, expected ${manifest.weightsSha256})`,
    );
  }
  const layers = await tf.loadLayersModel(fileSystemHandler(dir));
  const model = new EmbeddingModel(layers, {
    backbone: manifest.backbone,
    inputShape: manifest.inputShape,
    embeddingDim: manifest.embeddingDim,
    normalization: manifest.normalization,
    head: manifest.head,
  });
  return { model, manifest };
}

/** Loads a model version as an Embedder. */
export async function loadModel(dir: string): Promise<EmbeddingModel> {
  return (await loadModelVersion(dir)).model;
}
