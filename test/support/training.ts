/** The trainer's specs' fixtures: a backend to train on and a small MNIST split. */
import { initBackend } from '../../src/ml/backend';
import { loadDataset } from '../../src/ml/data';
import type { DatasetSplit } from '../../src/ml/types';

/** The options of a run of a few steps on MNIST at 8-dimensional embeddings. */
export const TINY_MNIST_RUN = {
  dataset: 'mnist',
  embeddingDim: 8,
  batchSize: 20,
  stepsPerEpoch: 2,
  epochs: 1,
  seed: 1,
};

/**
 * Starts the backend, wasm unless TFJS_BACKEND says otherwise (with the added gradient kernels it trains
 * 20-30x faster than the reference cpu backend), and loads 100 training, 20 validation and 40 test images.
 */
export async function smallMnistSplit(): Promise<DatasetSplit> {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
  return loadDataset('mnist', { seed: 1, maxTrain: 100, maxValidation: 20, maxTest: 40 });
}
