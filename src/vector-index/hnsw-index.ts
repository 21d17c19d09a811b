/**
 * An HNSW index (hnswlib-node, cosine) over the embeddings of one model, keyed by gallery item id.
 * hnswlib knows only integer labels, so the index keeps the int label <-> item id mapping itself
 * (IdTable: 16 bytes per UUID plus a hash slot).
 * Framework-free: the Nest service that owns one per deployed model lives in src/modules/search.
 */
import { HierarchicalNSW } from 'hnswlib-node';
import { IdTable } from './id-table';

export interface HnswParams {
  /** Graph degree; 16 is hnswlib's recommended default for 64-512 dimensions. */
  m: number;
  efConstruction: number;
  /** Search breadth used when a query names none; always raised to at least k. */
  efSearch: number;
  randomSeed: number;
}

export const DEFAULT_HNSW_PARAMS: HnswParams = {
  m: 16,
  efConstruction: 200,
  efSearch: 64,
  randomSeed: 100,
};

export interface Neighbour {
  id: string;
  /** Cosine distance, 1 - cosine similarity, in [0, 2]. */
  distance: number;
  /** Cosine similarity, 1 - distance. */
  score: number;
}

export interface SearchOptions {
  k: number;
  ef?: number;
  /** Only items for which this returns true are returned; the search continues until k of them are found. */
  filter?: (id: string) => boolean;
}

/** The part of the index state that is not inside the hnswlib file; persisted beside it. */
export interface LabelTable {
  nextLabel: number;
  labels: number[];
  ids: string[];
}

const MIN_CAPACITY = 1024;

export class HnswIndex {
  private readonly table = new IdTable();
  /**
   * One reused number[] for the vector handed to hnswlib (it wants a plain array and copies it before
   * returning): an Array.from per call made ~1 KB of garbage per insert and 2.6-3.1 us per search
   * (docs/BENCHMARKS.md, "The wrapper's per-query cost").
   */
  private readonly point: number[];
  /** The ef last given to hnswlib (NaN: none yet; a loaded index starts at hnswlib's default). */
  private currentEf = NaN;
  private nextLabel = 0;

  private constructor(
    readonly modelId: string,
    readonly dim: number,
    readonly params: HnswParams,
    private readonly hnsw: HierarchicalNSW,
  ) {
    this.point = new Array<number>(dim).fill(0);
  }

  static create(
    modelId: string,
    dim: number,
    params: Partial<HnswParams> = {},
    capacity = MIN_CAPACITY,
  ): HnswIndex {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new Error(`index dimension must be a positive integer (got ${dim})`);
    const full = { ...DEFAULT_HNSW_PARAMS, ...params };
    const hnsw = new HierarchicalNSW('cosine', dim);
    hnsw.initIndex({
      maxElements: Math.max(MIN_CAPACITY, capacity),
      m: full.m,
      efConstruction: full.efConstruction,
      randomSeed: full.randomSeed,
      allowReplaceDeleted: true,
    });
    return new HnswIndex(modelId, dim, full, hnsw);
  }

  /** Wraps an hnswlib index read from disk together with its label table. */
  static fromParts(
    modelId: string,
    dim: number,
    params: HnswParams,
    hnsw: HierarchicalNSW,
    table: LabelTable,
  ): HnswIndex {
    if (table.labels.length !== table.ids.length) {
      throw new Error(`label table has ${table.labels.length} labels but ${table.ids.length} ids`);
    }
    const index = new HnswIndex(modelId, dim, params, hnsw);
    for (let i = 0; i < table.labels.length; i++) index.bind(table.ids[i], table.labels[i]);
    index.nextLabel = table.nextLabel;
    return index;
  }

  /** Number of live (not deleted) items. */
  get size(): number {
    return this.table.size;
  }

  get capacity(): number {
    return this.hnsw.getMaxElements();
  }

  has(id: string): boolean {
    return this.table.labelOf(id) !== undefined;
  }

  ids(): string[] {
    return Array.from(this.table.entries(), ([id]) => id);
  }

  /** Adds an item, or replaces its vector when the id is already present. */
  add(id: string, vector: ArrayLike<number>): void {
    this.checkDim(vector);
    const point = this.copied(vector);
    const existing = this.table.labelOf(id);
    if (existing !== undefined) {
      this.hnsw.addPoint(point, existing);
      return;
    }
    // Elements still count against capacity after markDelete until replaced, so grow on the raw count.
    // An index read from disk has exactly its element count as capacity: 0 when it was saved empty.
    if (this.hnsw.getCurrentCount() >= this.hnsw.getMaxElements()) {
      this.hnsw.resizeIndex(Math.max(MIN_CAPACITY, this.hnsw.getMaxElements() * 2));
    }
    const label = this.nextLabel++;
    // replaceDeleted reuses the slot of a deleted item, so deletions do not grow the file forever.
    this.hnsw.addPoint(point, label, true);
    this.bind(id, label);
  }

  /** Removes an item; returns false when it was not in the index. */
  remove(id: string): boolean {
    const label = this.table.delete(id);
    if (label === undefined) return false;
    this.hnsw.markDelete(label);
    return true;
  }

  search(query: ArrayLike<number>, options: SearchOptions): Neighbour[] {
    this.checkDim(query);
    const k = Math.min(options.k, this.size);
    if (k <= 0) return [];
    // hnswlib searches with max(ef, k); setting it per call is safe because calls are synchronous.
    // Only when it changes: most calls use the same ef, and each setEf is a native call.
    const ef = Math.max(options.ef ?? this.params.efSearch, k);
    if (ef !== this.currentEf) {
      this.hnsw.setEf(ef);
      this.currentEf = ef;
    }
    const filter = options.filter;
    // hnswlib-node copies the query into its own buffer; a number[] (search by id) needs no copy here.
    const point = Array.isArray(query) ? (query as number[]) : this.copied(query);
    const result = filter
      ? this.hnsw.searchKnn(point, k, (label) => {
          const id = this.table.idOf(label);
          return id !== undefined && filter(id);
        })
      : this.hnsw.searchKnn(point, k);
    const neighbours: Neighbour[] = [];
    for (let i = 0; i < result.neighbors.length; i++) {
      const id = this.table.idOf(result.neighbors[i]);
      if (id === undefined) continue;
      const distance = result.distances[i];
      neighbours.push({ id, distance, score: 1 - distance });
    }
    return neighbours;
  }

  /** The stored (normalised) vector of an item, or undefined. */
  vectorOf(id: string): number[] | undefined {
    const label = this.table.labelOf(id);
    return label === undefined ? undefined : this.hnsw.getPoint(label);
  }

  labelTable(): LabelTable {
    const labels: number[] = [];
    const ids: string[] = [];
    for (const [id, label] of this.table.entries()) {
      ids.push(id);
      labels.push(label);
    }
    return { nextLabel: this.nextLabel, labels, ids };
  }

  /** Bytes held by the id table's typed arrays (non-UUID ids in Maps not counted). */
  get idTableBytes(): number {
    return this.table.packedBytes;
  }

  /** The underlying hnswlib index, for persistence only. */
  get native(): HierarchicalNSW {
    return this.hnsw;
  }

  private bind(id: string, label: number): void {
    this.table.set(id, label);
  }

  private copied(vector: ArrayLike<number>): number[] {
    for (let i = 0; i < this.dim; i++) this.point[i] = vector[i];
    return this.point;
  }

  private checkDim(vector: ArrayLike<number>): void {
    if (vector.length !== this.dim) {
      throw new Error(
        `vector has dimension ${vector.length}, index ${this.modelId} expects ${this.dim}`,
      );
    }
  }
}
