/**
 * What `rir bench` runs (src/cli/bench.command.ts loads this file from a source checkout): the
 * reference-net throughput benchmark (train / infer / pgd_step, each input shape, one worker and all
 * cores) and the production models (production.ts: small-cnn:train, small-cnn:panum7, small-cnn:infer,
 * mobilenetv2-early:train, mobilenetv2-early:infer), each optionally against its PyTorch counterpart
 * measured in the same run (`--rounds N` repeats the A/B pairs), written as JSON lines on stdout and,
 * unless switched off, as a JSON file under bench/results/ and (reference net only) docs/BENCHMARKS.md.
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
  isProductionMode,
  PRODUCTION_MODES,
  splitMode,
  benchProductionModel,
  runTorchProduction,
  TORCH_PRODUCTION_SCRIPT,
  type ProductionModel,
  type ProductionMode,
  type ProductionStep,
} from './production';
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
  const requested = flags.modes.split(',').map((m) => m.trim());
  for (const mode of requested)
    if (!(BENCH_MODES as string[]).includes(mode) && !isProductionMode(mode))
      throw new Error(
        `--modes: unknown mode '${mode}' (${[...BENCH_MODES, ...PRODUCTION_MODES].join(', ')})`,
      );
  const modes = requested.filter((m): m is BenchMode => (BENCH_MODES as string[]).includes(m));
  const productionModes = requested.filter(isProductionMode);
  const rounds = parseCount('--rounds', flags.rounds ?? '1');
  if (rounds > 1 && modes.length > 0 && flags.doc)
    throw new Error(
      '--rounds: the generated report takes one round of the reference net (add --no-doc)',
    );
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
  const productionScript = path.resolve(ROOT, TORCH_PRODUCTION_SCRIPT);
  if (flags.torch) {
    // Before any measurement: a missing interpreter or torch stops the run at once, with the reason.
    if (modes.length > 0 && !fs.existsSync(script))
      throw new Error(`--torch: baseline script not found: ${script}`);
    if (productionModes.length > 0 && !fs.existsSync(productionScript))
      throw new Error(`--torch: PyTorch counterparts not found: ${productionScript}`);
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
  for (let round = 1; round <= rounds; round++) {
    const tag = rounds > 1 ? { round } : {};
    const emitRound = (row: BenchRow) => emit({ ...row, ...tag });
    if (modes.length > 0)
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
          ours.forEach(emitRound);
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
            baseline.rows.filter((r) => (modes as string[]).includes(r.mode)).forEach(emitRound);
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
          ours.forEach(emitRound);
        }
      }
    // A GPU backend runs on this thread only: one worker.
    const productionWorkers = productionModes.length === 0 ? [] : onGpu ? [1] : workerCounts;
    for (const workers of productionWorkers) {
      for (const [model, steps] of groupByModel(productionModes)) {
        if (flags.torch) {
          const baseline = runTorchProduction(flags.python, productionScript, {
            model,
            steps,
            threads: workers,
            reps,
            warmup,
          });
          if (baseline.error) {
            torchError = baseline.error;
            console.error(`rir bench: PyTorch counterpart failed: ${baseline.error}`);
          }
          baseline.rows.forEach(emitRound);
        }
        const ours = await benchProductionModel({
          model,
          steps,
          workers,
          reps,
          warmup,
          backend,
        });
        ours.forEach(emitRound);
      }
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
  // The reference net's run file by default; a run of production modes only gets its own.
  const jsonFile =
    flags.json === false
      ? null
      : (flags.json ??
        (modes.length > 0
          ? 'bench/results/reference-net.json'
          : 'bench/results/production-models.json'));
  if (jsonFile) {
    const file = path.resolve(ROOT, jsonFile);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    console.error(`rir bench: wrote ${path.relative(ROOT, file)}`);
  }
  if (flags.doc && modes.length === 0)
    console.error('rir bench: no reference-net mode ran: docs/BENCHMARKS.md left as it is');
  if (flags.doc && modes.length > 0) {
    const appendixFile = path.resolve(ROOT, flags.appendix);
    const appendix = fs.existsSync(appendixFile) ? fs.readFileSync(appendixFile, 'utf8') : '';
    const file = path.resolve(ROOT, flags.doc);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const reference = { ...run, rows: rows.filter((r) => !isProductionMode(r.mode)) };
    fs.writeFileSync(file, mergeIntoDocument(existing, renderBenchmarks(reference, appendix)));
    console.error(`rir bench: wrote ${path.relative(ROOT, file)}`);
  }
}

/** The production modes by model, in the order given: one PyTorch process per model and thread count. */
function groupByModel(modes: ProductionMode[]): Array<[ProductionModel, ProductionStep[]]> {
  const byModel = new Map<ProductionModel, ProductionStep[]>();
  for (const mode of modes) {
    const [model, step] = splitMode(mode);
    byModel.set(model, [...(byModel.get(model) ?? []), step]);
  }
  return [...byModel];
}
