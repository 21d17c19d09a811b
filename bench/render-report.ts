/**
 * Re-renders docs/BENCHMARKS.md from a saved run (bench/results/reference-net.json) and bench/levers.md,
 * without re-measuring: `node -r @swc-node/register bench/render-report.ts`.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  mergeIntoDocument,
  renderBenchmarks,
  type BenchRun,
} from './reference-net/benchmark-report';

const root = path.resolve(__dirname, '..');
const run = JSON.parse(
  fs.readFileSync(path.join(root, 'bench/results/reference-net.json'), 'utf8'),
) as BenchRun;
const appendix = fs.readFileSync(path.join(root, 'bench/levers.md'), 'utf8');
const doc = path.join(root, 'docs/BENCHMARKS.md');
const existing = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '';
fs.writeFileSync(doc, mergeIntoDocument(existing, renderBenchmarks(run, appendix)));
console.log('wrote docs/BENCHMARKS.md');
