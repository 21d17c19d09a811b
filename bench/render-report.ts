/**
 * Re-renders docs/BENCHMARKS.md from a saved run (bench/results/reference-net.json) and bench/levers.md,
 * without re-measuring: `node -r @swc-node/register bench/render-report.ts`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderBenchmarks, type BenchRun } from '../src/ml/parallel/benchmark-report';

const root = path.resolve(__dirname, '..');
const run = JSON.parse(
  fs.readFileSync(path.join(root, 'bench/results/reference-net.json'), 'utf8'),
) as BenchRun;
const appendix = fs.readFileSync(path.join(root, 'bench/levers.md'), 'utf8');
fs.writeFileSync(path.join(root, 'docs/BENCHMARKS.md'), renderBenchmarks(run, appendix));
console.log('wrote docs/BENCHMARKS.md');
