import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../backend';
import { trainEmbeddingModel } from '.';

/** The CI-sized version of the MNIST experiment: a few hundred images, two short epochs. */
describe('MNIST class-disjoint smoke training', () => {
  it('lowers the loss and retrieves unseen digits far above chance', async () => {
    await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
    const result = await trainEmbeddingModel({
      dataset: 'mnist',
      outDir: await fs.mkdtemp(path.join(os.tmpdir(), 'mnist-smoke-')),
      embeddingDim: 32,
      batchSize: 50,
      stepsPerEpoch: 4,
      epochs: 2,
      learningRate: 2e-3,
      schedule: 'constant',
      maxTrain: 400,
      maxValidation: 0,
      maxTest: 200,
      seed: 3,
    });
    const [first, second] = result.history;
    expect(second.loss).toBeLessThan(first.loss);
    // Chance R@1 on five balanced classes is about 0.2.
    expect(result.metrics.recallAt1).toBeGreaterThan(0.6);
    expect(result.metrics.meanPairwiseDistance).toBeGreaterThan(0.1);
  });
});
