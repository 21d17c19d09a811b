import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** A tensor with its name, as tfjs optimizers save their state. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** Writes a temporary file and renames it over `file`, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}-${Date.now()}`;
  await fs.writeFile(temporary, data);
  await fs.rename(temporary, file);
}

/** SHA-256 of bytes, hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  if (Array.isArray(data)) return new Uint8Array(tf.io.concatenateArrayBuffers(data));
  return new Uint8Array(data as ArrayBuffer);
}

/**
 * A tfjs IOHandler on the local file system (tfjs-node's file:// handler is not available here):
 * model.json (topology + weights manifest) and one weights.bin.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error('binary model topologies are not supported');
      const weights = weightBytes(artifacts.weightData);
      await fs.mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileAtomic(path.join(dir, MODEL_FILE), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: {
        modelTopology: object;
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        weightsManifest: tf.io.WeightsManifestConfig;
      };
      try {
        json = JSON.parse(await fs.readFile(path.join(dir, MODEL_FILE), 'utf8')) as typeof json;
      } catch (error) {
        throw new Error(`cannot read ${path.join(dir, MODEL_FILE)}: ${(error as Error).message}`);
      }
      const specs = json.weightsManifest.flatMap((group) => group.weights);
      const buffers = await Promise.all(
        json.weightsManifest
          .flatMap((group) => group.paths)
          .map((file) => fs.readFile(path.join(dir, file))),
      );
      const bytes = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        weightSpecs: specs,
        weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      };
    },
  };
}

/** Writes a set of named tensors (optimizer state) as JSON specs + binary. */
export async function saveNamedTensors(
  dir: string,
  name: string,
  tensors: NamedTensor[],
): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, `${name}.bin`), weightBytes(data));
  await writeFileAtomic(path.join(dir, `${name}.json`), JSON.stringify(specs));
}

export async function loadNamedTensors(dir: string, name: string): Promise<NamedTensor[]> {
  const specs = JSON.parse(
    await fs.readFile(path.join(dir, `${name}.json`), 'utf8'),
  ) as tf.io.WeightsManifestEntry[];
  const bytes = await fs.readFile(path.join(dir, `${name}.bin`));
  const map = tf.io.decodeWeights(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    specs,
  );
  return specs.map((spec) => ({ name: spec.name, tensor: map[spec.name] }));
}
