import * as tf from '@tensorflow/tfjs';
import { kMeans, normalizedMutualInformation } from './clustering';

/** Recall and MAP@R are NaN when no item has another of its class (nothing can be retrieved). */
export interface RetrievalMetrics {
  recallAt1: number;
  recallAt2: number;
  recallAt4: number;
  recallAt8: number;
  /** MAP@R (Musgrave et al. 2020): R = number of other items of the query's class. */
  mapAtR: number;
  /** NMI of k-means clusters (k = number of classes, seeded) against the labels. */
  nmi: number;
  /** Mean Euclidean distance over all pairs: near 0 means a collapsed embedding. */
  meanPairwiseDistance: number;
  count: number;
  /**
   * With `perQuery`: each query's outcome (items whose class has no other item are no query), for
   * intervals: hit at 1 (0 or 1), average precision over its R (0..1), and the share of its class among
   * the other items (what a random ranking's R@1 would be).
   */
  perQuery?: { hitAt1: number[]; averagePrecision: number[]; chanceAt1: number[] };
}

export interface EvaluateOptions {
  seed?: number;
  /** Queries per distance block (memory vs speed). */
  blockSize?: number;
  /** Skip k-means (large sets, quick checks); nmi is then NaN. */
  skipNmi?: boolean;
  /** Also return each query's outcomes (`perQuery`). */
  perQuery?: boolean;
}

/**
 * Exact nearest-neighbour retrieval evaluation, every item as a query against all others (the query is
 * excluded from its own neighbours). Distances are Euclidean; ties are broken by item index.
 */
export function evaluateRetrieval(
  embeddings: Float32Array,
  dim: number,
  labels: Int32Array,
  options: EvaluateOptions = {},
): RetrievalMetrics {
  const count = labels.length;
  if (embeddings.length !== count * dim) {
    throw new Error(
      `expected ${count} x ${dim} = ${count * dim} embedding values, got ${embeddings.length}`,
    );
  }
  if (count < 2) throw new Error(`retrieval evaluation needs at least 2 items, got ${count}`);
  const classSize = new Map<number, number>();
  for (const label of labels) classSize.set(label, (classSize.get(label) ?? 0) + 1);
  const ks = [1, 2, 4, 8];
  const hits = [0, 0, 0, 0];
  let averagePrecisionSum = 0;
  let queries = 0;
  let distanceSum = 0;
  const perQuery = options.perQuery
    ? { hitAt1: [] as number[], averagePrecision: [] as number[], chanceAt1: [] as number[] }
    : undefined;
  const blockSize = options.blockSize ?? 256;
  const order = new Uint32Array(count - 1);
  forEachDistanceBlock(embeddings, dim, count, blockSize, (start, block) => {
    for (let row = 0; row < block.length / count; row++) {
      const q = start + row;
      const distances = block.subarray(row * count, (row + 1) * count);
      for (let j = q + 1; j < count; j++) distanceSum += distances[j];
      let n = 0;
      for (let j = 0; j < count; j++) if (j !== q) order[n++] = j;
      order.sort((a, b) => distances[a] - distances[b] || a - b);
      const relevant = classSize.get(labels[q])! - 1;
      if (relevant === 0) continue; // a singleton class has nothing to retrieve
      queries++;
      ks.forEach((k, i) => {
        for (let r = 0; r < Math.min(k, order.length); r++) {
          if (labels[order[r]] === labels[q]) {
            hits[i]++;
            break;
          }
        }
      });
      let found = 0;
      let precisionSum = 0;
      for (let r = 0; r < relevant; r++) {
        if (labels[order[r]] === labels[q]) {
          found++;
          precisionSum += found / (r + 1);
        }
      }
      averagePrecisionSum += precisionSum / relevant;
      if (perQuery) {
        perQuery.hitAt1.push(labels[order[0]] === labels[q] ? 1 : 0);
        perQuery.averagePrecision.push(precisionSum / relevant);
        perQuery.chanceAt1.push(relevant / (count - 1));
      }
    }
  });
  // With no query that has a same-class item (every class a singleton), recall is undefined, not 0.
  const safe = queries > 0 ? queries : Number.NaN;
  const nmi = options.skipNmi
    ? Number.NaN
    : normalizedMutualInformation(
        labels,
        kMeans(embeddings, dim, classSize.size, options.seed ?? 0),
      );
  return {
    recallAt1: hits[0] / safe,
    recallAt2: hits[1] / safe,
    recallAt4: hits[2] / safe,
    recallAt8: hits[3] / safe,
    mapAtR: averagePrecisionSum / safe,
    nmi,
    meanPairwiseDistance: distanceSum / ((count * (count - 1)) / 2),
    count,
    ...(perQuery ? { perQuery } : {}),
  };
}

/** Calls back with blocks of the exact distance matrix (rows start..start+b), computed with tf matMul. */
function forEachDistanceBlock(
  embeddings: Float32Array,
  dim: number,
  count: number,
  blockSize: number,
  visit: (start: number, block: Float32Array) => void,
): void {
  const all = tf.tensor2d(embeddings, [count, dim]);
  const norms = tf.tidy(() => tf.sum(tf.square(all), 1));
  try {
    for (let start = 0; start < count; start += blockSize) {
      const end = Math.min(count, start + blockSize);
      const block = tf.tidy(() => {
        const rows = tf.slice(all, [start, 0], [end - start, dim]);
        const rowNorms = tf.slice(norms, [start], [end - start]);
        const squared = tf.sub(
          tf.add(tf.expandDims(rowNorms, 1), tf.expandDims(norms, 0)),
          tf.mul(tf.matMul(rows, all, false, true), 2),
        );
        return tf.sqrt(tf.relu(squared));
      });
      const values = block.dataSync() as Float32Array;
      block.dispose();
      visit(start, values);
    }
  } finally {
    tf.dispose([all, norms]);
  }
}
