import { SeededRandom } from '../data/random';

/** k-means (k-means++ seeding, Lloyd iterations), seeded; returns a cluster index per row. */
export function kMeans(
  data: Float32Array,
  dim: number,
  k: number,
  seed: number,
  maxIterations = 100,
): Int32Array {
  const count = data.length / dim;
  if (k < 1 || k > count) throw new Error(`k-means needs 1 <= k <= ${count} (got k=${k})`);
  const random = new SeededRandom(seed);
  const centroids = new Float64Array(k * dim);
  const nearest = new Float64Array(count).fill(Infinity);
  const squared = (i: number, c: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const diff = data[i * dim + d] - centroids[c * dim + d];
      s += diff * diff;
    }
    return s;
  };
  const setCentroid = (c: number, i: number) => {
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = data[i * dim + d];
  };
  setCentroid(0, random.int(count));
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < count; i++) {
      nearest[i] = Math.min(nearest[i], squared(i, c - 1));
      total += nearest[i];
    }
    let r = random.next() * total;
    let pick = count - 1;
    for (let i = 0; i < count; i++) {
      r -= nearest[i];
      if (r < 0) {
        pick = i;
        break;
      }
    }
    setCentroid(c, pick);
  }
  const assignment = new Int32Array(count).fill(-1);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let changed = 0;
    for (let i = 0; i < count; i++) {
      let best = 0;
      let bestDistance = Infinity;
      for (let c = 0; c < k; c++) {
        const d = squared(i, c);
        if (d < bestDistance) {
          bestDistance = d;
          best = c;
        }
      }
      if (assignment[i] !== best) {
        assignment[i] = best;
        changed++;
      }
    }
    if (changed === 0) break;
    const sizes = new Float64Array(k);
    centroids.fill(0);
    for (let i = 0; i < count; i++) {
      sizes[assignment[i]]++;
      for (let d = 0; d < dim; d++) centroids[assignment[i] * dim + d] += data[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0)
        setCentroid(c, random.int(count)); // an empty cluster restarts at a random point
      else for (let d = 0; d < dim; d++) centroids[c * dim + d] /= sizes[c];
    }
  }
  return assignment;
}

/** NMI with the arithmetic-mean normalisation: 2 I(Y; C) / (H(Y) + H(C)); 1 when both are constant. */
export function normalizedMutualInformation(
  labels: ArrayLike<number>,
  clusters: ArrayLike<number>,
): number {
  const n = labels.length;
  if (clusters.length !== n)
    throw new Error(`expected ${n} cluster assignments, got ${clusters.length}`);
  const joint = new Map<string, number>();
  const byLabel = new Map<number, number>();
  const byCluster = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${labels[i]}:${clusters[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    byLabel.set(labels[i], (byLabel.get(labels[i]) ?? 0) + 1);
    byCluster.set(clusters[i], (byCluster.get(clusters[i]) ?? 0) + 1);
  }
  const entropy = (counts: Map<number, number>) =>
    [...counts.values()].reduce((h, c) => h - (c / n) * Math.log(c / n), 0);
  let mutual = 0;
  for (const [key, c] of joint) {
    const [label, cluster] = key.split(':').map(Number);
    mutual += (c / n) * Math.log((c * n) / (byLabel.get(label)! * byCluster.get(cluster)!));
  }
  const hLabels = entropy(byLabel);
  const hClusters = entropy(byCluster);
  if (hLabels + hClusters === 0) return 1;
  return (2 * mutual) / (hLabels + hClusters);
}
