/**
 * Resident memory of HnswIndex's id tables for n items: the shipped two Maps (id -> label, label -> id)
 * against a Map plus a string[] indexed by label. The id strings themselves are measured separately.
 *
 *   node --expose-gc -r @swc-node/register bench/index-id-tables.bench.ts [--n 1000000] [--mode maps|array]
 */
import { arg } from './lib/args';
import { memoryAfterGc } from './lib/memory';

const rss = () => memoryAfterGc().rss;

function main(): void {
  if (!global.gc) throw new Error('run with --expose-gc');
  const n = Number(arg('n', '1000000'));
  const mode = arg('mode', 'maps');
  const start = rss();
  const ids = Array.from({ length: n }, (_, i) => String(i));
  const afterIds = rss();
  const labelOf = new Map<string, number>();
  let idOf: Map<number, string> | string[];
  if (mode === 'maps') {
    const map = new Map<number, string>();
    for (let i = 0; i < n; i++) {
      labelOf.set(ids[i], i);
      map.set(i, ids[i]);
    }
    idOf = map;
  } else if (mode === 'array') {
    const array = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      labelOf.set(ids[i], i);
      array[i] = ids[i];
    }
    idOf = array;
  } else {
    throw new Error(`unknown --mode ${mode} (maps or array)`);
  }
  const after = rss();
  console.log(
    JSON.stringify({
      n,
      mode,
      idStringsBytesPerItem: Math.round((afterIds - start) / n),
      tablesBytesPerItem: Math.round((after - afterIds) / n),
      sizes: [labelOf.size, idOf instanceof Map ? idOf.size : idOf.length],
    }),
  );
}

main();
