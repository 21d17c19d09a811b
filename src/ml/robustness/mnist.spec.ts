/**
 * The CI-sized version of the reproduction on real MNIST digits: a tiny undefended model loses R@1 under
 * ES, a short panum run moves its loss, and training, attacking and inference leave no tensor behind.
 */
import { pgd } from '../attacks/pgd';
import { runAttack, prepareGallery, naturalRecallAt1, sampleQueries } from '../attacks/suite';
import { trainableEmbedder } from '../../../test/support/attack-fixtures';
import { initBackend, tf } from '../backend';
import { loadDataset } from '../data';
import { MPerClassSampler } from '../data/sampler';
import { selectImages } from '../data/split';
import { createDefense } from '../defenses';
import { createLoss } from '../losses';
import { createEmbeddingModel } from '../models';
import { applyGradients, computeGradients } from '../training';
import type { DatasetSplit, Defense, Embedder } from '../types';

let split: DatasetSplit;

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND);
  split = await loadDataset('mnist', { seed: 1, maxTrain: 400, maxValidation: 0, maxTest: 150 });
});

/** Trains `steps` m-per-class batches; returns the loss of each step. */
function train(
  embedder: Embedder,
  variables: tf.Variable[],
  defense: Defense,
  steps: number,
  learningRate: number,
): number[] {
  const loss = createLoss('triplet');
  const optimizer = tf.train.adam(learningRate);
  const sampler = new MPerClassSampler(split.train.labels, { batchSize: 20, perClass: 4, seed: 2 });
  const batches = [...sampler.epoch(0), ...sampler.epoch(1)];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const set = selectImages(split.train, batches[step % batches.length]);
    const images = tf.tensor4d(set.images, [set.labels.length, ...set.shape]);
    const labels = tf.tensor1d(set.labels, 'int32');
    const result = computeGradients(
      embedder,
      variables,
      defense,
      loss.compute,
      { images, labels },
      step,
    );
    applyGradients(optimizer, result.grads);
    losses.push(result.loss);
    tf.dispose([images, labels]);
  }
  optimizer.dispose();
  return losses;
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

describe('MNIST, CI-sized', () => {
  it('an undefended model retrieves well naturally and loses R@1 under ES (eps 77/255)', () => {
    const embedder = trainableEmbedder(split.train.shape, 16, 5);
    train(embedder, embedder.variables, createDefense('none'), 40, 0.01);
    const gallery = prepareGallery(embedder, split.test);
    try {
      const rows = sampleQueries(gallery, 40, 3);
      const natural = naturalRecallAt1(gallery, rows);
      const run = runAttack(embedder, gallery, 'ES', rows, {
        eps: 77 / 255,
        alpha: 3 / 255,
        steps: 10,
        seed: 1,
      });
      expect(natural).toBeGreaterThan(60);
      expect(run.figures['ES:R']).toBeLessThan(natural - 30);
      expect(run.maxPerturbation).toBeLessThanOrEqual(77 / 255 + 1e-6);
    } finally {
      gallery.dispose();
      embedder.dispose();
    }
  });

  it('a short panum run moves its training loss', () => {
    const embedder = trainableEmbedder(split.train.shape, 16, 6);
    const losses = train(
      embedder,
      embedder.variables,
      createDefense('panum', { eps: 0.3, steps: 2, alpha: 0.3 }),
      24,
      0.01,
    );
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)) - 0.05);
  });

  it('the small CNN: a panum training step, an attack and an inference return the tensor count to where it started', async () => {
    const model = await createEmbeddingModel({
      backbone: 'small-cnn',
      inputShape: split.train.shape,
      embeddingDim: 16,
      seed: 1,
    });
    const defense = createDefense('panum', { eps: 0.3, steps: 1, alpha: 0.3 });
    try {
      train(model, model.trainableVariables, defense, 1, 0.001); // creates lazily built weights and state
      const before = tf.memory().numTensors;
      train(model, model.trainableVariables, defense, 1, 0.001);
      const images = tf.tensor4d(split.test.images.subarray(0, 4 * 784), [4, 28, 28, 1]);
      const attack = pgd(model, images, (e) => tf.neg(tf.sum(e, 1)), {
        eps: 0.1,
        alpha: 0.05,
        steps: 1,
        keepBest: true,
      });
      attack.adversarial.dispose();
      model.embed(images, false).dispose();
      images.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
