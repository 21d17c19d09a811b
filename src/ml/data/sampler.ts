import { SeededRandom } from './random';

export interface MPerClassOptions {
  batchSize: number;
  /** Images per class in a batch (m); batchSize / m classes per batch. */
  perClass: number;
  seed: number;
}

/**
 * The m-per-class sampler of deep metric learning: every batch holds batchSize/m classes with m images
 * each, so every anchor has positives. Classes with fewer than m images are sampled with repetition.
 * One epoch has floor(N / batchSize) batches; the order is a function of (seed, epoch).
 */
export class MPerClassSampler {
  private readonly byClass = new Map<number, number[]>();
  private readonly classes: number[];
  readonly batchesPerEpoch: number;

  constructor(
    labels: Int32Array,
    private readonly options: MPerClassOptions,
  ) {
    const { batchSize, perClass } = options;
    if (!Number.isInteger(perClass) || perClass < 2) throw new Error(`per-class m must be an integer >= 2 (got ${perClass})`);
    if (!Number.isInteger(batchSize) || batchSize < perClass || batchSize % perClass !== 0) {
      throw new Error(`batch size must be a positive multiple of per-class m=${perClass} (got ${batchSize})`);
    }
    labels.forEach((label, index) => {
      const list = this.byClass.get(label) ?? [];
      list.push(index);
      this.byClass.set(label, list);
    });
    this.classes = [...this.byClass.keys()].sort((a, b) => a - b);
    const classesPerBatch = batchSize / perClass;
    if (this.classes.length < classesPerBatch) {
      throw new Error(
        `batch size ${batchSize} with m=${perClass} needs ${classesPerBatch} classes per batch but the data has ${this.classes.length}`,
      );
    }
    this.batchesPerEpoch = Math.max(1, Math.floor(labels.length / batchSize));
  }

  /** The batches of one epoch, as index lists. */
  epoch(epoch: number): Int32Array[] {
    const random = new SeededRandom(this.options.seed * 1_000_003 + epoch);
    const { batchSize, perClass } = this.options;
    const classesPerBatch = batchSize / perClass;
    // Per-class queues so that an epoch goes through each class's images before repeating them.
    const queues = new Map<number, number[]>();
    const take = (label: number): number => {
      let queue = queues.get(label);
      if (!queue || queue.length === 0) {
        queue = random.shuffle(this.byClass.get(label)!.slice());
        queues.set(label, queue);
      }
      return queue.pop()!;
    };
    const batches: Int32Array[] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const chosen = random.shuffle(this.classes.slice()).slice(0, classesPerBatch);
      const batch = new Int32Array(batchSize);
      let k = 0;
      for (const label of chosen) for (let j = 0; j < perClass; j++) batch[k++] = take(label);
      batches.push(batch);
    }
    return batches;
  }
}
