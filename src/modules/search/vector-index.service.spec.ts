import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import type { AppConfig } from '../../config';
import type { EmbeddingsRepository } from './embeddings.repository';
import { HnswIndex } from '../../vector-index/hnsw-index';
import { ItemCatalog } from './item-catalog';
import { saveDelayAfter, VectorIndexService } from './vector-index.service';

const DIM = 16;
const ROWS = 5000;

/** Rows as the repository pages them: sorted ids, deterministic vectors. */
function rows(): { itemId: string; vector: number[] }[] {
  let state = 7;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  return Array.from({ length: ROWS }, (_, i) => ({
    itemId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    vector: Array.from({ length: DIM }, rand),
  }));
}

/** Answers from memory with already-resolved promises: on its own it never yields to the event loop. */
function fakeEmbeddings(all: { itemId: string; vector: number[] }[]): EmbeddingsRepository {
  return {
    countForModel: async () => all.length,
    pageForModel: async (_model: string, after: string | null, limit: number) => {
      const start = after === null ? 0 : all.findIndex((r) => r.itemId === after) + 1;
      return all.slice(start, start + limit);
    },
  } as unknown as EmbeddingsRepository;
}

/** Runs `work` while a chain of setImmediate callbacks stands in for requests; counts those served. */
async function countCallbacksDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; served: number }> {
  let served = 0;
  let done = false;
  const serve = () => {
    served++;
    if (!done) setImmediate(serve);
  };
  setImmediate(serve);
  try {
    return { result: await work(), served };
  } finally {
    done = true;
  }
}

describe('VectorIndexService', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'rir-vis-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds an index from the database in slices, answering other callbacks in between', async () => {
    const all = rows();
    const service = new VectorIndexService(
      { dataDir: dir } as AppConfig,
      fakeEmbeddings(all),
      new ItemCatalog(),
    );
    // A request arriving during a deploy's rebuild stands in as a chain of setImmediate callbacks.
    const { result: index, served } = await countCallbacksDuring(() =>
      service.rebuild('model-a', DIM),
    );
    expect(index.size).toBe(ROWS);
    // 5,000 HNSW inserts are far longer than one 4 ms slice: before pacing, a page ran as one block
    // and nothing else was served until it finished.
    expect(served).toBeGreaterThan(1);
    expect(index.search(all[123].vector, { k: 1 })[0].id).toBe(all[123].itemId);
    await service.onApplicationShutdown();
  });

  it('indexes a batch into the serving index in slices too (uploads and deploys go through addMany)', async () => {
    const all = rows();
    const service = new VectorIndexService(
      { dataDir: dir } as AppConfig,
      fakeEmbeddings([]),
      new ItemCatalog(),
    );
    const index = HnswIndex.create('model-c', DIM, {}, ROWS);
    service.swap({
      modelId: 'model-c',
      index,
      embedder: { close: async () => undefined } as never,
    });
    const { served } = await countCallbacksDuring(() => service.addMany('model-c', all));
    expect(index.size).toBe(ROWS);
    expect(served).toBeGreaterThan(1);
    // A model that is neither serving nor being deployed gets nothing.
    await service.addMany('model-x', all.slice(0, 3));
    expect(index.size).toBe(ROWS);
    await service.onApplicationShutdown();
  });

  it('builds with the configured HNSW parameters (HNSW_M, HNSW_EF_CONSTRUCTION)', async () => {
    const all = rows().slice(0, 200);
    const service = new VectorIndexService(
      { dataDir: dir, index: { m: 12, efConstruction: 64, efSearch: 40 } } as AppConfig,
      fakeEmbeddings(all),
      new ItemCatalog(),
    );
    const index = await service.rebuild('model-m', DIM);
    expect(index.params).toMatchObject({ m: 12, efConstruction: 64, efSearch: 40 });
    expect(index.search(all[7].vector, { k: 1 })[0].id).toBe(all[7].itemId);
    await service.onApplicationShutdown();
  });

  it('waits ten times as long as the last save took before the next one, and at least two seconds', () => {
    expect(saveDelayAfter(0)).toBe(2000);
    expect(saveDelayAfter(150)).toBe(2000);
    expect(saveDelayAfter(480.4)).toBe(4804);
    expect(saveDelayAfter(1500)).toBe(15_000);
  });

  it('starts with the two-second delay and records the duration of a save', async () => {
    const service = new VectorIndexService(
      { dataDir: dir } as AppConfig,
      fakeEmbeddings([]),
      new ItemCatalog(),
    );
    expect(service.saveDelayMs()).toBe(2000);
    const index = await service.rebuild('model-b', DIM);
    await service.saveNow(index);
    expect(service.saveDelayMs()).toBeGreaterThanOrEqual(2000);
    await service.onApplicationShutdown();
  });
});
