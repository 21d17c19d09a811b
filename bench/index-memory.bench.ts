/**
 * Memory of the vector index at scale, measured in a process that does nothing else: N random unit
 * vectors (memory does not depend on the data: every element gets its full level-0 link block, and
 * upper levels are drawn from the seed) added through the service's HnswIndex with UUID ids. Reports the
 * C heap's growth (glibc's mallinfo2 through the native addon: hnswlib and the id table's ArrayBuffers)
 * plus the live JS heap's, next to an accounting of hnswlib's allocations; RSS growth too, though it
 * also holds the V8 pages that the number[] copy of every added vector leaves behind as garbage.
 *
 *   node --expose-gc -r @swc-node/register bench/index-memory.bench.ts [--n 1000000] [--dim 128] [--m 16]
 *     [--ef-construction 16] [--out bench/results/index-memory-m16.json]
 */
import { randomUUID } from 'crypto';
import { writeFileSync } from 'fs';
import { HnswIndex } from '../src/vector-index/hnsw-index';
import { arg } from './lib/args';
import { memoryAfterGc } from './lib/memory';

function snapshot(): { rss: number; malloc: number; jsHeap: number } {
  const { rss, cHeap, jsHeap } = memoryAfterGc();
  if (cHeap === null) throw new Error('needs the native addon (npm run build:native) on glibc');
  return { rss, malloc: cHeap, jsHeap };
}

const n = Number(arg('n', '1000000'));
const dim = Number(arg('dim', '128'));
const m = Number(arg('m', '16'));
const efConstruction = Number(arg('ef-construction', '16'));
if (!global.gc) throw new Error('run with node --expose-gc');

const ids = Array.from({ length: n }, (): string => randomUUID());
const vector = new Float32Array(dim);
let state = 12345;
const before = snapshot();
const start = process.hrtime.bigint();
const index = HnswIndex.create('memory', dim, { m, efConstruction }, n);
for (let i = 0; i < n; i++) {
  let norm = 0;
  for (let d = 0; d < dim; d++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    vector[d] = state / 4294967296 - 0.5;
    norm += vector[d] * vector[d];
  }
  for (let d = 0; d < dim; d++) vector[d] /= Math.sqrt(norm);
  index.add(ids[i], vector);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const after = snapshot();
const raw = 4 * dim;
// hnswlib's allocations per element (hnswalg.h): level-0 block (link count + 2M links, vector, label),
// linkLists_ pointer, element level, per-element mutex, label_lookup_ node (~32 B with malloc's header)
// plus bucket (~8 B), upper-level link blocks (4 + 4M bytes per level, 1/M of elements per level),
// visited-list pool (2 B); fixed: 65,536 label-operation mutexes.
const level0 = 4 + 2 * m * 4 + raw + 8;
const upper = ((4 + 4 * m) * (1 / m)) / (1 - 1 / m);
const accounting = {
  level0Block: level0,
  pointerLevelMutex: 8 + 4 + 40,
  labelLookup: 40,
  upperLevels: Math.round(upper * 10) / 10,
  visitedList: 2,
  labelOpMutexes: Math.round((65536 * 40) / n),
};
const hnswBytes = Object.values(accounting).reduce((s, v) => s + v, 0);
const idTableBytes = index.idTableBytes / n;
const result = {
  date: new Date().toISOString(),
  command: `node --expose-gc -r @swc-node/register bench/index-memory.bench.ts ${process.argv.slice(2).join(' ')}`,
  n,
  dim,
  params: { m, efConstruction },
  buildSeconds: Math.round(seconds),
  rawBytesPerVector: raw,
  rssGrowthBytesPerVector: Math.round((after.rss - before.rss) / n),
  // What the index allocated: the C heap (hnswlib, and the id table's ArrayBuffers, which Node's
  // allocator takes from malloc) plus live JS objects.
  mallocGrowthBytesPerVector: Math.round((after.malloc - before.malloc) / n),
  jsHeapGrowthBytesPerVector: Math.round((after.jsHeap - before.jsHeap) / n),
  indexBytesPerVector: Math.round(
    (after.malloc - before.malloc + Math.max(0, after.jsHeap - before.jsHeap)) / n,
  ),
  indexVsRaw:
    Math.round(
      ((after.malloc - before.malloc + Math.max(0, after.jsHeap - before.jsHeap)) / n / raw) * 1000,
    ) / 1000,
  accountingBytesPerVector: {
    hnswlib: accounting,
    hnswlibTotal: Math.round(hnswBytes),
    idTable: Math.round(idTableBytes * 10) / 10,
    total: Math.round(hnswBytes + idTableBytes),
    vsRaw: Math.round(((hnswBytes + idTableBytes) / raw) * 1000) / 1000,
  },
};
console.log(JSON.stringify(result, null, 2));
const out = arg('out', '');
if (out) writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
