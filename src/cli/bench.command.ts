/**
 * `rir bench`: the reference-net throughput benchmark (train / infer / pgd_step, both input shapes, one
 * worker and all cores), optionally against the PyTorch baseline measured in the same run.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Command } from 'commander';
import {
  BENCH_MODES,
  benchReferenceNet,
  benchReferenceNetInThread,
  machineInfo,
  runTorchReference,
  type BenchMode,
  type BenchRow,
} from '../ml/parallel/benchmark';
import { mergeIntoDocument, ratioToTorch, renderBenchmarks } from '../ml/parallel/benchmark-report';
import { BACKEND_ORDER, GPU_BACKENDS } from '../ml/backend';

/** The checkout root: the nearest directory above this file holding package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

interface BenchFlags {
  inputs: string;
  workers?: string;
  modes: string;
  reps: string;
  warmup: string;
  torch?: boolean;
  torchScript: string;
  python: string;
  fused: boolean;
  doc: string | false;
  json: string | false;
  appendix: string;
  backend?: string;
}

function parseInputs(spec: string): Array<[number, number]> {
  return spec.split(',').map((part) => {
    const match = /^(\d+)x(\d+)$/.exec(part.trim());
    if (!match) throw new Error(`--inputs: expected HEIGHTxCHANNELS like 28x1, got '${part}'`);
    return [Number(match[1]), Number(match[2])];
  });
}

function parseCount(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name}: expected a positive integer, got '${value}'`);
  return n;
}

async function runBench(flags: BenchFlags): Promise<void> {
  const root = repoRoot();
  const inputs = parseInputs(flags.inputs);
  const cores = os.cpus().length;
  const workerCounts = (flags.workers ?? [...new Set([1, cores])].join(','))
    .split(',')
    .map((w) => parseCount('--workers', w));
  const modes = flags.modes.split(',').map((m) => m.trim()) as BenchMode[];
  for (const mode of modes)
    if (!BENCH_MODES.includes(mode))
      throw new Error(`--modes: unknown mode '${mode}' (${BENCH_MODES.join(', ')})`);
  const backend = flags.backend;
  const allowed: string[] = [...BACKEND_ORDER, 'cpu'];
  if (backend !== undefined && !allowed.includes(backend))
    throw new Error(`--backend must be one of ${allowed.join(', ')} (got '${backend}')`);
  const onGpu = backend !== undefined && GPU_BACKENDS.includes(backend);
  const reps = parseCount('--reps', flags.reps);
  const warmup = Number(flags.warmup);

  const machine = machineInfo();
  const rows: BenchRow[] = [];
  let torchVersion: string | undefined;
  let torchError: string | undefined;
  const emit = (row: BenchRow) => {
    rows.push(row);
    const ratio = row.framework === 'tfjs' ? ratioToTorch(rows, row) : undefined;
    console.log(JSON.stringify(ratio === undefined ? row : { ...row, ratio_to_pytorch: ratio }));
  };
  for (const [height, channels] of inputs) {
    if (onGpu) {
      // One device for the process: the modes run on this thread (the baseline is still CPU PyTorch).
      const ours = await benchReferenceNetInThread({
        height,
        channels,
        modes,
        reps,
        warmup,
        fused: flags.fused,
        backend: backend!,
      });
      ours.forEach(emit);
      continue;
    }
    for (const workers of workerCounts) {
      if (flags.torch) {
        const script = path.resolve(root, flags.torchScript);
        const baseline = runTorchReference(flags.python, script, height, channels, workers);
        torchVersion ??= baseline.version;
        if (baseline.error) {
          torchError = baseline.error;
          console.error(`rir bench: PyTorch baseline skipped: ${baseline.error}`);
        }
        baseline.rows.filter((r) => modes.includes(r.mode)).forEach(emit);
      }
      const ours = await benchReferenceNet({
        height,
        channels,
        workers,
        modes,
        reps,
        warmup,
        fused: flags.fused,
        backend,
      });
      ours.forEach(emit);
    }
  }
  const run = {
    date: new Date().toISOString(),
    command: `rir bench ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    loadAverageAfter: os.loadavg().map((v) => Math.round(v * 100) / 100),
    rows,
    torchVersion,
    torchError,
  };
  if (flags.json) {
    const file = path.resolve(root, flags.json);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    console.error(`rir bench: wrote ${path.relative(root, file)}`);
  }
  if (flags.doc) {
    const appendixFile = path.resolve(root, flags.appendix);
    const appendix = fs.existsSync(appendixFile) ? fs.readFileSync(appendixFile, 'utf8') : '';
    const file = path.resolve(root, flags.doc);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    fs.writeFileSync(file, mergeIntoDocument(existing, renderBenchmarks(run, appendix)));
    console.error(`rir bench: wrote ${path.relative(root, file)}`);
  }
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'Reference-net throughput (train / infer / pgd_step) with 1 worker and all cores; JSON lines on stdout',
    )
    .option('--inputs <list>', 'input shapes as HEIGHTxCHANNELS', '28x1,32x3')
    .option('--workers <list>', 'worker-thread counts to run (default: 1 and the number of cores)')
    .option('--modes <list>', `modes to time (${BENCH_MODES.join(', ')})`, BENCH_MODES.join(','))
    .option('--reps <n>', 'timed repetitions (median reported)', '9')
    .option('--warmup <n>', 'untimed warm-up repetitions', '3')
    .option('--torch', 'also run the PyTorch baseline in the same run and report ratios')
    .option(
      '--torch-script <path>',
      'baseline script, relative to the repository root',
      '../shared/bench/torch_reference.py',
    )
    .option('--python <path>', 'python interpreter with torch', '/usr/bin/python3')
    .option(
      '--backend <name>',
      `tfjs backend (${BACKEND_ORDER.join(', ')}, cpu; default: the fastest that starts); a GPU backend runs on one thread`,
    )
    .option('--no-fused', 'separate conv / bias / ReLU ops instead of fused kernels (lever study)')
    .option('--doc <path>', 'markdown report to write', 'docs/BENCHMARKS.md')
    .option('--no-doc', 'do not write the markdown report')
    .option(
      '--json <path>',
      'write the run (machine, rows) as JSON',
      'bench/results/reference-net.json',
    )
    .option('--no-json', 'do not write the JSON file')
    .option('--appendix <path>', 'hand-written notes appended to the report', 'bench/levers.md')
    .action((flags: BenchFlags) => runBench(flags));
}
