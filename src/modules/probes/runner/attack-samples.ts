/**
 * The suite's runAttack, keeping what the suite averages away: each sample's adversarial image, its
 * embedding and its targets. Same targets, same seeds and same batches as runAttack, so the images
 * are the ones the report's figures were measured on (a spec checks the means agree).
 */
import * as tf from '@tensorflow/tfjs';
import { ATTACKS, type AttackName, type MetricName } from '../../../ml/attacks/definitions';
import { pgd } from '../../../ml/attacks/pgd';
import { SeededRandom } from '../../../ml/attacks/random';
import {
  configurationFor,
  type AttackSuiteOptions,
  type PreparedGallery,
} from '../../../ml/attacks/suite';
import type { Embedder } from '../../../ml/types';

export interface AttackedSample {
  row: number;
  targets: number[];
  /** H*W*C pixels in [0,1]. */
  adversarial: Float32Array;
  embedding: Float32Array;
  figures: Partial<Record<MetricName, number>>;
}

function gatherRows(images: PreparedGallery['images'], rows: number[]): tf.Tensor4D {
  const [h, w, c] = images.shape;
  const per = h * w * c;
  const buffer = new Float32Array(rows.length * per);
  rows.forEach((row, i) => buffer.set(images.images.subarray(row * per, (row + 1) * per), i * per));
  return tf.tensor4d(buffer, [rows.length, h, w, c]);
}

export function attackSamples(
  embedder: Embedder,
  gallery: PreparedGallery,
  attack: AttackName,
  rows: number[],
  options: AttackSuiteOptions,
): AttackedSample[] {
  const definition = ATTACKS[attack];
  const configuration = configurationFor(attack, options);
  const seed = options.seed ?? 0;
  // The seeding of runAttack in src/ml/attacks/suite.ts.
  const rng = new SeededRandom(seed * 31 + attack.length * 7 + attack.charCodeAt(0));
  const targetOptions = {
    queriesPerCandidate: options.queriesPerCandidate ?? 1,
    candidatesPerQuery: options.candidatesPerQuery ?? 1,
  };
  const [h, w, c] = gallery.images.shape;
  const per = h * w * c;
  const dim = embedder.embeddingDim;
  const batchSize = options.batchSize ?? 100;
  const samples: AttackedSample[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const chunk = rows.slice(start, start + batchSize);
    const targets = chunk.map((row) => definition.targets(gallery, row, rng, targetOptions));
    const objective = definition.objective(gallery, chunk, targets);
    const x0 = gatherRows(gallery.images, chunk);
    try {
      const result = pgd(embedder, x0, objective.fn, {
        ...configuration,
        keepBest: true,
        seed: seed + start,
      });
      const pixels = result.adversarial.dataSync() as Float32Array;
      const embedded = tf.tidy(
        () => embedder.embed(result.adversarial, false).dataSync() as Float32Array,
      );
      result.adversarial.dispose();
      chunk.forEach((row, i) => {
        const embedding = embedded.slice(i * dim, (i + 1) * dim);
        samples.push({
          row,
          targets: targets[i],
          adversarial: pixels.slice(i * per, (i + 1) * per),
          embedding,
          figures: definition.score(gallery, row, targets[i], embedding),
        });
      });
    } finally {
      x0.dispose();
      objective.constants.forEach((t) => t.dispose());
    }
    options.onProgress?.(`${attack}: ${Math.min(rows.length, start + batchSize)}/${rows.length}`);
  }
  return samples;
}
