import * as tf from '@tensorflow/tfjs';
import { temporaryFolders } from '../../../test/support/folders';
import { smallMnistSplit, TINY_MNIST_RUN } from '../../../test/support/training';
import { PanumDefense } from '../defenses/panum';
import { resolveDefenseOptions } from '../defenses/options';
import { loadModel } from '../model-store';
import type { DatasetSplit, DefenseContext } from '../types';
import { resolveTrainingConfig, trainEmbeddingModel } from '.';

let split: DatasetSplit;
const tiny = { ...TINY_MNIST_RUN, stepsPerEpoch: 1 };
const augmentation = { maxShift: 2, horizontalFlip: false };

const tempDir = temporaryFolders('fine-tune-');

beforeAll(async () => {
  split = await smallMnistSplit();
});

/** The trainable weights only (batch-norm moving statistics change in any training step). */
async function trainableWeightsOf(dir: string): Promise<Float32Array> {
  const model = await loadModel(dir);
  try {
    return Float32Array.from(
      model.trainableVariables.flatMap((v) => Array.from(v.dataSync() as Float32Array)),
    );
  } finally {
    model.dispose();
  }
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);
}

describe('fine-tuning (initFrom)', () => {
  it('starts from the given model: one step at a tiny rate keeps its weights, a fresh start does not', async () => {
    const base = await tempDir();
    await trainEmbeddingModel({ ...tiny, outDir: base }, { split });
    const fineTuned = await tempDir();
    await trainEmbeddingModel(
      { ...tiny, seed: 2, learningRate: 1e-9, initFrom: base, outDir: fineTuned },
      { split },
    );
    const fresh = await tempDir();
    await trainEmbeddingModel({ ...tiny, seed: 2, learningRate: 1e-9, outDir: fresh }, { split });
    const original = await trainableWeightsOf(base);
    expect(maxAbsDifference(await trainableWeightsOf(fineTuned), original)).toBeLessThan(1e-6);
    expect(maxAbsDifference(await trainableWeightsOf(fresh), original)).toBeGreaterThan(1e-2);
  });

  it('refuses a model of another shape, naming the mismatch', async () => {
    const base = await tempDir();
    await trainEmbeddingModel({ ...tiny, outDir: base }, { split });
    await expect(
      trainEmbeddingModel(
        { ...tiny, embeddingDim: 16, initFrom: base, outDir: await tempDir() },
        { split },
      ),
    ).rejects.toThrow(/cannot fine-tune .*embedding size 8 \(run: 16\)/);
  });

  it('trains panum with the instance term and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const result = await trainEmbeddingModel(
      {
        ...tiny,
        defense: 'panum',
        defenseOptions: { eps: 0.1, steps: 1 },
        augmentation,
        instanceTerm: { weight: 1, instances: 4 },
        outDir: await tempDir(),
      },
      { split },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(result.manifest.defense?.name).toBe('panum');
  });

  it('accepts the instance term only with defences that keep its views apart', () => {
    const base = { dataset: 'mnist', outDir: 'x', augmentation, batchSize: 20 };
    const instanceTerm = { weight: 1, instances: 4 };
    expect(() => resolveTrainingConfig({ ...base, defense: 'panum', instanceTerm })).not.toThrow();
    expect(() => resolveTrainingConfig({ ...base, defense: 'naive', instanceTerm })).toThrow(
      /instance term trains with --defense none, panum, est only/,
    );
  });
});

describe('panum with instance-term views in the batch', () => {
  it('mines and perturbs only the class rows', () => {
    const images = tf.randomUniform([12, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    // 8 class rows (2 classes x 4), then 4 view rows whose instance labels overlap the class labels.
    const labels = tf.tensor1d([0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1], 'int32');
    const seen: number[] = [];
    const embedder = {
      embeddingDim: 2,
      inputShape: [28, 28, 1] as [number, number, number],
      embed(x: tf.Tensor4D) {
        seen.push(x.shape[0]);
        return tf.tidy(() => {
          const v = x.reshape([x.shape[0], -1]).slice([0, 0], [-1, 2]);
          return tf.div(v, tf.norm(v, 'euclidean', 1, true));
        }) as tf.Tensor2D;
      },
    };
    const defense = new PanumDefense(resolveDefenseOptions('panum', { eps: 0.1, steps: 1 }));
    const ctx = {
      embedder,
      loss: () => tf.scalar(0),
      batch: { images, labels, classRows: 8 },
      step: 0,
    } as unknown as DefenseContext;
    const before = tf.memory().numTensors;
    const crafted = tf.tidy(() => defense.craft(ctx));
    const [adversarial, anchors, positives, negatives] = crafted;
    expect(adversarial.shape[0]).toBeLessThanOrEqual(8);
    for (const indices of [anchors, positives, negatives]) {
      expect(Math.max(...(indices.dataSync() as Int32Array))).toBeLessThan(8);
    }
    expect(seen.every((rows) => rows <= 8)).toBe(true);
    tf.dispose(crafted);
    expect(tf.memory().numTensors).toBe(before);
    expect(() =>
      defense.craft({ ...ctx, batch: { images, labels, classRows: 1 } } as DefenseContext),
    ).toThrow(/classRows must be an integer in \[2, 12\]/);
    tf.dispose([images, labels]);
  });
});
