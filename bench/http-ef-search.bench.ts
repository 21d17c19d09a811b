/**
 * What the HNSW walk of search by id costs at a few ef values, in-process, on an index file the
 * service saved (e.g. DATA_DIR/index/<model>-<hash>.hnsw of the http-search bench's data directory):
 * every query is a stored vector, k = 11 (search by id asks for k + 1), the ef values interleaved
 * round by round so that machine load hits them alike. Prints CPU µs per query (this process's user +
 * system time, so time the process spends waiting for a core on a busy machine is not counted).
 *
 *   node -r @swc-node/register bench/http-ef-search.bench.ts FILE.hnsw [--dim 64] [--ef 64,48,32]
 */
import { HierarchicalNSW } from 'hnswlib-node';
import { arg } from './lib/args';

const file = process.argv[2];
if (!file || file.startsWith('--')) throw new Error('usage: http-ef-search.bench.ts FILE.hnsw');
const efs = arg('ef', '64,48,32').split(',').map(Number);
const index = new HierarchicalNSW('cosine', Number(arg('dim', '64')));
index.readIndexSync(file, true);
const count = index.getCurrentCount();
const queries = Array.from({ length: 3000 }, (_, i) => index.getPoint((i * 7919) % count));
const rounds = 6;
const micros = new Map(efs.map((ef) => [ef, 0]));
for (let round = 0; round < rounds; round++) {
  for (const ef of efs) {
    index.setEf(ef);
    const start = process.cpuUsage();
    for (const query of queries) index.searchKnn(query, 11);
    const used = process.cpuUsage(start);
    // Round 0 warms up.
    if (round > 0) micros.set(ef, micros.get(ef)! + used.user + used.system);
  }
}
const perQuery = (ef: number) => micros.get(ef)! / ((rounds - 1) * queries.length);
console.log(
  JSON.stringify({
    benchmark: 'http-ef-search',
    date: new Date().toISOString(),
    vectors: count,
    queries: queries.length,
    k: 11,
    cpuUsPerQuery: Object.fromEntries(efs.map((ef) => [ef, Math.round(perQuery(ef) * 10) / 10])),
  }),
);
