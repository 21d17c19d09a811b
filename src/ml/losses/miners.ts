/**
 * Tuple miners. They work on values (a distance matrix read from the natural embeddings) and return
 * index triplets, so a caller can mine on natural embeddings and compute the loss on other ones
 * (adversarial anchors against clean references).
 */
export interface Triplets {
  anchors: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
}

function build(list: number[][]): Triplets {
  return {
    anchors: Int32Array.from(list, (t) => t[0]),
    positives: Int32Array.from(list, (t) => t[1]),
    negatives: Int32Array.from(list, (t) => t[2]),
  };
}

function checkSizes(distances: ArrayLike<number>, labels: ArrayLike<number>): number {
  const size = labels.length;
  if (distances.length !== size * size) {
    throw new Error(
      `expected a ${size}x${size} distance matrix (${size * size} values), got ${distances.length} values`,
    );
  }
  return size;
}

/** Batch-hard (Hermans et al. 2017): per anchor, its farthest positive and nearest negative. */
export function mineBatchHard(distances: ArrayLike<number>, labels: ArrayLike<number>): Triplets {
  const size = checkSizes(distances, labels);
  const list: number[][] = [];
  for (let a = 0; a < size; a++) {
    let positive = -1;
    let negative = -1;
    for (let j = 0; j < size; j++) {
      if (j === a) continue;
      const d = distances[a * size + j];
      if (labels[j] === labels[a]) {
        if (positive < 0 || d > distances[a * size + positive]) positive = j;
      } else if (negative < 0 || d < distances[a * size + negative]) negative = j;
    }
    if (positive >= 0 && negative >= 0) list.push([a, positive, negative]);
  }
  return build(list);
}

/**
 * Semi-hard (Schroff et al. 2015, as TensorFlow Addons implements it): for every positive pair (a, p),
 * the nearest negative farther than p; when none is farther, the farthest negative.
 */
export function mineSemiHard(distances: ArrayLike<number>, labels: ArrayLike<number>): Triplets {
  const size = checkSizes(distances, labels);
  const list: number[][] = [];
  for (let a = 0; a < size; a++) {
    for (let p = 0; p < size; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      const dap = distances[a * size + p];
      let outside = -1;
      let inside = -1;
      for (let n = 0; n < size; n++) {
        if (labels[n] === labels[a]) continue;
        const d = distances[a * size + n];
        if (d > dap) {
          if (outside < 0 || d < distances[a * size + outside]) outside = n;
        } else if (inside < 0 || d > distances[a * size + inside]) inside = n;
      }
      const negative = outside >= 0 ? outside : inside;
      if (negative >= 0) list.push([a, p, negative]);
    }
  }
  return build(list);
}

/** Every valid (a, p, n) with a != p of one class and n of another. */
export function mineAllTriplets(labels: ArrayLike<number>): Triplets {
  const size = labels.length;
  const list: number[][] = [];
  for (let a = 0; a < size; a++) {
    for (let p = 0; p < size; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      for (let n = 0; n < size; n++) if (labels[n] !== labels[a]) list.push([a, p, n]);
    }
  }
  return build(list);
}
