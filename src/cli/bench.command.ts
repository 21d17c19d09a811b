/**
 * `rir bench`: the reference-net throughput benchmark (train / infer / pgd_step, both input shapes, one
 * worker and all cores) and the production models through the production code (small-cnn:train,
 * small-cnn:panum7, small-cnn:infer, mobilenetv2-early:train, mobilenetv2-early:infer), optionally
 * against their PyTorch counterparts measured in the same run.
 *
 * The benchmark itself is not production code: it lives in bench/reference-net/ of a source checkout,
 * outside the build (tsconfig.build.json), and is loaded from there when the command runs. From the
 * built output (RIR_USE_DIST=1 in a checkout) it is compiled on load by @swc-node/register; an
 * installation without bench/ (the Docker image) says so and stops.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { BACKEND_ORDER } from '../ml/backend';
import { packageRoot } from '../common/package-root';

export interface BenchFlags {
  inputs: string;
  workers?: string;
  modes: string;
  reps: string;
  warmup: string;
  /** A/B rounds (PyTorch then tfjs, per thread count), each row tagged with its round. */
  rounds?: string;
  torch?: boolean;
  torchScript: string;
  python: string;
  fused: boolean;
  doc: string | false;
  /** undefined: bench/results/reference-net.json, or production-models.json without reference modes. */
  json?: string | false;
  appendix: string;
  backend?: string;
}

/** The benchmark's entry point, relative to the repository root. */
export const BENCH_ENTRY = path.join('bench', 'reference-net', 'run.ts');
/** The PyTorch baseline shipped with the benchmark, relative to the repository root. */
export const DEFAULT_TORCH_SCRIPT = 'bench/reference-net/torch_reference.py';
const MODES = 'train,infer,pgd_step';
/** The production models' modes (bench/reference-net/production.ts). */
const PRODUCTION_MODES =
  'small-cnn:train,small-cnn:panum7,small-cnn:infer,mobilenetv2-early:train,mobilenetv2-early:infer';

interface BenchModule {
  runBench(flags: BenchFlags): Promise<void>;
}

/** Loads bench/reference-net/run.ts from the checkout this command runs in, or says why it cannot. */
export function loadBench(root: string = packageRoot()): BenchModule {
  const entry = path.join(root, BENCH_ENTRY);
  if (!fs.existsSync(entry))
    throw new Error(
      `the reference-net benchmark is not part of this installation: it runs ${BENCH_ENTRY} from a ` +
        `source checkout of the repository (the built output holds production code only; looked in ${root})`,
    );
  // In a checkout bin/rir has registered swc already; from dist/ nothing compiles TypeScript yet.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@swc-node/register');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(entry) as BenchModule;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'Reference-net and production-model throughput with 1 worker and all cores, optionally against PyTorch; JSON lines on stdout (needs bench/ of a source checkout)',
    )
    .option('--inputs <list>', 'input shapes as HEIGHTxCHANNELS', '28x1,32x3')
    .option('--workers <list>', 'worker-thread counts to run (default: 1 and the number of cores)')
    .option(
      '--modes <list>',
      `modes to time: reference net (${MODES.split(',').join(', ')}) and production models (${PRODUCTION_MODES.split(',').join(', ')})`,
      MODES,
    )
    .option('--reps <n>', 'timed repetitions (median reported)', '9')
    .option('--warmup <n>', 'untimed warm-up repetitions', '3')
    .option(
      '--rounds <n>',
      'repeat the PyTorch / tfjs pairs this many times (rows carry their round)',
      '1',
    )
    .option('--torch', 'also run the PyTorch baseline in the same run and report ratios')
    .option(
      '--torch-script <path>',
      'baseline script, relative to the repository root',
      DEFAULT_TORCH_SCRIPT,
    )
    .option('--python <path>', 'Python 3 interpreter with torch installed', 'python3')
    .option(
      '--backend <name>',
      `tfjs backend (${BACKEND_ORDER.join(', ')}, cpu; default: the fastest that starts); a GPU backend runs on one thread`,
    )
    .option('--no-fused', 'separate conv / bias / ReLU ops instead of fused kernels (lever study)')
    .option('--doc <path>', 'markdown report of the reference net to write', 'docs/BENCHMARKS.md')
    .option('--no-doc', 'do not write the markdown report')
    .option(
      '--json <path>',
      'write the run (machine, rows) as JSON (default bench/results/reference-net.json; production-models.json when only production modes run)',
    )
    .option('--no-json', 'do not write the JSON file')
    .option('--appendix <path>', 'hand-written notes appended to the report', 'bench/levers.md')
    .action((flags: BenchFlags) => loadBench().runBench(flags));
}
