import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { HnswIndex } from './hnsw-index';
import { IndexLoadError, indexPaths, loadIndex, saveIndex } from './index-store';

/** Deterministic clustered vectors: a few centres plus small noise, like real embeddings. */
function clustered(n: number, dim: number, seed = 1): Float32Array[] {
  let state = seed;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const centres = Array.from({ length: 8 }, () => Float32Array.from({ length: dim }, rand));
  return Array.from({ length: n }, (_, i) => {
    const centre = centres[i % centres.length];
    return Float32Array.from(centre, (v) => v + 0.1 * rand());
  });
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `item-${i}`);

describe('HnswIndex', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rir-index-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds an item itself first with score 1 and matches exact cosine scores', () => {
    const vectors = clustered(300, 16);
    const index = HnswIndex.create('m1', 16);
    vectors.forEach((v, i) => index.add(`item-${i}`, v));
    const hits = index.search(vectors[42], { k: 5 });
    expect(hits).toHaveLength(5);
    expect(hits[0].id).toBe('item-42');
    expect(hits[0].score).toBeCloseTo(1, 5);
    for (const hit of hits) {
      const i = Number(hit.id.split('-')[1]);
      expect(hit.score).toBeCloseTo(cosine(vectors[42], vectors[i]), 4);
      expect(hit.distance).toBeCloseTo(1 - hit.score, 6);
    }
    for (let i = 1; i < hits.length; i++)
      expect(hits[i].distance).toBeGreaterThanOrEqual(hits[i - 1].distance);
  });

  it('gives each search the ef it asks for, also after a search with another ef (ef is cached)', () => {
    const vectors = clustered(2000, 16, 3);
    const index = HnswIndex.create('m-ef', 16, { efConstruction: 40 });
    vectors.forEach((v, i) => index.add(`item-${i}`, v));
    const narrow = () => index.search(vectors[5], { k: 10, ef: 10 }).map((h) => h.id);
    const first = narrow();
    expect(index.native.getEf()).toBe(10);
    expect(narrow()).toEqual(first);
    expect(index.search(vectors[5], { k: 10, ef: 400 })).toHaveLength(10);
    expect(index.native.getEf()).toBe(400);
    // Back to the narrow breadth: the same answer as before the wide search, so ef 400 did not stick.
    expect(narrow()).toEqual(first);
    expect(index.native.getEf()).toBe(10);
    // k above ef raises it to k, as hnswlib requires.
    index.search(vectors[5], { k: 25, ef: 10 });
    expect(index.native.getEf()).toBe(25);
  });

  it('grows past its initial capacity', () => {
    const vectors = clustered(2500, 8);
    const index = HnswIndex.create('m1', 8, {}, 1024);
    vectors.forEach((v, i) => index.add(`item-${i}`, v));
    expect(index.size).toBe(2500);
    expect(index.capacity).toBeGreaterThanOrEqual(2500);
    expect(index.search(vectors[2499], { k: 1 })[0].id).toBe('item-2499');
  });

  it('never returns deleted items and reuses their slots', () => {
    const vectors = clustered(200, 8);
    const index = HnswIndex.create('m1', 8);
    vectors.forEach((v, i) => index.add(`item-${i}`, v));
    expect(index.remove('item-7')).toBe(true);
    expect(index.remove('item-7')).toBe(false);
    expect(index.size).toBe(199);
    const hits = index.search(vectors[7], { k: 199 });
    expect(hits.map((h) => h.id)).not.toContain('item-7');
    expect(hits).toHaveLength(199);
    index.add('fresh', vectors[7]);
    expect(index.native.getCurrentCount()).toBe(200);
    expect(index.search(vectors[7], { k: 1 })[0].id).toBe('fresh');
  });

  it('applies a filter and still returns k matching items', () => {
    const vectors = clustered(400, 8);
    const index = HnswIndex.create('m1', 8);
    vectors.forEach((v, i) => index.add(`item-${i}`, v));
    const hits = index.search(vectors[0], {
      k: 10,
      filter: (id) => Number(id.split('-')[1]) % 8 === 3,
    });
    expect(hits).toHaveLength(10);
    for (const hit of hits) expect(Number(hit.id.split('-')[1]) % 8).toBe(3);
  });

  it('rejects vectors of the wrong dimension, naming both', () => {
    const index = HnswIndex.create('m1', 8);
    expect(() => index.add('x', new Float32Array(4))).toThrow('dimension 4, index m1 expects 8');
  });

  it('round-trips through save and load with identical results', async () => {
    const vectors = clustered(500, 16);
    const index = HnswIndex.create('model-a', 16);
    vectors.forEach((v, i) => index.add(ids(500)[i], v));
    index.remove('item-3');
    const header = await saveIndex(index, dir);
    expect(header).toMatchObject({ modelId: 'model-a', dim: 16, count: 499 });
    const loaded = await loadIndex(dir, { modelId: 'model-a', dim: 16, count: 499 });
    expect(loaded.size).toBe(499);
    expect(loaded.has('item-3')).toBe(false);
    for (const q of [0, 10, 250]) {
      expect(loaded.search(vectors[q], { k: 10 })).toEqual(index.search(vectors[q], { k: 10 }));
    }
    loaded.add('after-load', vectors[1]);
    expect(loaded.search(vectors[1], { k: 2 }).map((h) => h.id)).toContain('after-load');
  });

  it('an empty index saved and loaded again takes new items (hnswlib loads it with capacity 0)', async () => {
    const vectors = clustered(40, 16);
    await saveIndex(HnswIndex.create('empty', 16), dir);
    const loaded = await loadIndex(dir, { modelId: 'empty', dim: 16, count: 0 });
    vectors.forEach((v, i) => loaded.add(ids(40)[i], v));
    expect(loaded.size).toBe(40);
    expect(loaded.search(vectors[7], { k: 1 })[0].id).toBe('item-7');
  });

  it('reports a missing index as missing', async () => {
    await expect(loadIndex(dir, { modelId: 'nope', dim: 4 })).rejects.toMatchObject({
      reason: 'missing',
    });
  });

  it('detects a corrupted index file by its checksum', async () => {
    const index = HnswIndex.create('model-a', 8);
    clustered(100, 8).forEach((v, i) => index.add(`item-${i}`, v));
    await saveIndex(index, dir);
    const file = indexPaths(dir, 'model-a').hnsw;
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(file, bytes);
    const failure = await loadIndex(dir, { modelId: 'model-a', dim: 8 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(IndexLoadError);
    expect(failure).toMatchObject({ reason: 'corrupt' });
  });

  it('detects a truncated header as corrupt', async () => {
    const index = HnswIndex.create('model-a', 8);
    index.add('a', new Float32Array(8).fill(1));
    await saveIndex(index, dir);
    const header = indexPaths(dir, 'model-a').header;
    writeFileSync(header, readFileSync(header, 'utf8').slice(0, 40));
    await expect(loadIndex(dir, { modelId: 'model-a', dim: 8 })).rejects.toMatchObject({
      reason: 'corrupt',
    });
  });

  it('detects a stale index: wrong count or wrong dimension', async () => {
    const index = HnswIndex.create('model-a', 8);
    clustered(50, 8).forEach((v, i) => index.add(`item-${i}`, v));
    await saveIndex(index, dir);
    await expect(loadIndex(dir, { modelId: 'model-a', dim: 8, count: 51 })).rejects.toMatchObject({
      reason: 'stale',
      message: 'index stale: index holds 50 vectors, the database 51',
    });
    await expect(loadIndex(dir, { modelId: 'model-a', dim: 16 })).rejects.toMatchObject({
      reason: 'stale',
    });
  });
});
