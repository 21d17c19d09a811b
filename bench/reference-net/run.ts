/**
 * What `rir bench` runs (src/cli/bench.command.ts loads this file from a source checkout): the
 * reference-net throughput benchmark (train / infer / pgd_step, each input shape, one worker and all
 * cores), optionally against the PyTorch baseline measured in the same run, written as JSON lines on
 * stdout and, unless switched off, as bench/results/reference-net.json and docs/BENCHMARKS.md.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BenchFlags } from '../../src/cli/bench.command';
import { BACKEND_ORDER, GPU_BACKENDS } from '../../src/ml/backend';
import {
  BENCH_MODES,
  benchReferenceNet,
  benchReferenceNetInThread,
  machineInfo,
  probeTorch,
  runTorchReference,
  type BenchMode,
  type BenchRow,
} from './benchmark';
import {
  mergeIntoDocument,
  ratioToTorch,
  renderBenchmarks,
  type BenchRun,
} from './benchmark-report';

/** The repository root (this file is bench/reference-net/run.ts). */
const ROOT = path.resolve(__dirname, '..', '..');

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

export async function runBench(flags: BenchFlags): Promise<void> {
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
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new Error(`--warmup: expected a whole number, got '${flags.warmup}'`);

  let torchVersion: string | undefined;
  let torchError: string | undefined;
  const script = path.resolve(ROOT, flags.torchScript);
  if (flags.torch) {
    // Before any measurement: a missing interpreter or torch stops the run at once, with the reason.
    if (!fs.existsSync(script)) throw new Error(`--torch: baseline script not found: ${script}`);
    const probe = probeTorch(flags.python);
    if ('error' in probe) throw new Error(`--torch: ${probe.error}`);
    torchVersion = probe.version;
  }

  const machine = machineInfo();
  const rows: BenchRow[] = [];
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
        const baseline = runTorchReference(flags.python, script, {
          height,
          channels,
          threads: workers,
          reps,
          warmup,
        });
        if (baseline.error) {
          torchError = baseline.error;
          console.error(`rir bench: PyTorch baseline failed: ${baseline.error}`);
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
  const run: BenchRun = {
    date: new Date().toISOString(),
    command: `rir bench ${process.argv.slice(3).join(' ')}`.trim(),
    machine,
    loadAverageAfter: os.loadavg().map((v) => Math.round(v * 100) / 100),
    rows,
    torchVersion,
    torchError,
  };
  if (flags.json) {
    const file = path.resolve(ROOT, flags.json);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    console.error(`rir bench: wrote ${path.relative(ROOT, file)}`);
  }
  if (flags.doc) {
    const appendixFile = path.resolve(ROOT, flags.appendix);
    const appendix = fs.existsSync(appendixFile) ? fs.readFileSync(appendixFile, 'utf8') : '';
    const file = path.resolve(ROOT, flags.doc);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    fs.writeFileSync(file, mergeIntoDocument(existing, renderBenchmarks(run, appendix)));
    console.error(`rir bench: wrote ${path.relative(ROOT, file)}`);
  }
}
