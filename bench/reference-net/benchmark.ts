/**
 * Throughput of the reference net (bench/reference-net/README.md) in its three modes, timed like the
 * PyTorch baseline (torch_reference.py beside this file): median of 9 repetitions after 3 warm-ups,
 * images per second.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend';
import { SeededRandom } from '../../src/ml/data/random';
import { createAdam, type AdamState } from '../../src/ml/training/adam';
import { median, round } from '../lib/stats';
import { DataParallelTrainer } from './data-parallel';
import type { ProductionMode } from './production';
import { batchHardTripletLoss, pgdStep, ReferenceNet, referenceLabels } from './reference-net';

export type BenchMode = 'train' | 'infer' | 'pgd_step';
export const BENCH_MODES: BenchMode[] = ['train', 'infer', 'pgd_step'];
/** Batch sizes of the baseline. */
export const BENCH_BATCH: Record<BenchMode, number> = { train: 128, infer: 256, pgd_step: 128 };

export interface BenchRow {
  framework: 'tfjs' | 'pytorch';
  backend: string;
  /** A reference-net mode, or a production model's (production.ts). */
  mode: BenchMode | ProductionMode;
  height: number;
  channels: number;
  batch: number;
  /** Worker threads (tfjs) or intra-op threads (PyTorch). */
  threads: number;
  median_ms: number;
  img_per_s: number;
  fused?: boolean;
  /** The A/B round of `rir bench --rounds` the row belongs to (from 1; absent with one round). */
  round?: number;
}

export interface BenchOptions {
  height: number;
  channels: number;
  workers: number;
  modes?: BenchMode[];
  warmup?: number;
  reps?: number;
  fused?: boolean;
  backend?: string;
  /** One batch for every mode instead of BENCH_BATCH (a quick check of the plumbing on an emulated GPU). */
  batch?: number;
}

/** Median wall time (ms) of `reps` runs after `warmup` untimed ones. */
export async function timeMedian(
  run: () => Promise<unknown>,
  warmup: number,
  reps: number,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

/** `count * size` pixels in [0, 1] from a seed. */
export function randomImages(count: number, size: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: count * size }, () => random.next());
}

/** Runs the modes on `workers` worker threads, each batch split evenly across them. */
export async function benchReferenceNet(options: BenchOptions): Promise<BenchRow[]> {
  const { height, channels, workers } = options;
  const warmup = options.warmup ?? 3;
  const reps = options.reps ?? 9;
  const fused = options.fused ?? true;
  const trainer = await DataParallelTrainer.start({
    size: height,
    channels,
    workers,
    fused,
    backend: options.backend,
  });
  const imageSize = height * height * channels;
  const rows: BenchRow[] = [];
  try {
    for (const mode of options.modes ?? BENCH_MODES) {
      const batch = BENCH_BATCH[mode];
      const images = randomImages(batch, imageSize, 1);
      const labels = referenceLabels(batch);
      const run =
        mode === 'train'
          ? () => trainer.trainStep(images, labels)
          : mode === 'infer'
            ? () => trainer.infer(images)
            : () => trainer.pgdStep(images, labels, 0.01);
      const ms = await timeMedian(run, warmup, reps);
      rows.push({
        framework: 'tfjs',
        backend: trainer.backend,
        mode,
        height,
        channels,
        batch,
        threads: workers,
        median_ms: round(ms, 2),
        img_per_s: round((batch * 1000) / ms, 1),
        fused,
      });
    }
  } finally {
    await trainer.close();
  }
  return rows;
}

/**
 * The same modes on this thread's backend, for GPU backends (one device serves the process: worker
 * replicas would each open their own context). Every repetition reads its result back, so the timed
 * span covers the device's work, as torch.cuda.synchronize() does in a GPU baseline.
 */
export async function benchReferenceNetInThread(
  options: Omit<BenchOptions, 'workers'> & { backend: string },
): Promise<BenchRow[]> {
  const { height, channels } = options;
  const warmup = options.warmup ?? 3;
  const reps = options.reps ?? 9;
  const fused = options.fused ?? true;
  const info = await initBackend(options.backend);
  const net = new ReferenceNet({ size: height, channels, fused });
  // The trainer's Adam: the fused flat one on webgpu, tfjs's elsewhere.
  const optimizer = createAdam({ learningRate: 1e-3 });
  const rows: BenchRow[] = [];
  try {
    for (const mode of options.modes ?? BENCH_MODES) {
      const batch = options.batch ?? BENCH_BATCH[mode];
      const images = tf.tensor4d(randomImages(batch, height * height * channels, 1), [
        batch,
        height,
        height,
        channels,
      ]);
      const labels = tf.tensor1d(referenceLabels(batch), 'int32');
      const step = (): Promise<unknown> => {
        const out =
          mode === 'train'
            ? trainStep(optimizer, () => batchHardTripletLoss(net.embed(images), labels))
            : mode === 'infer'
              ? tf.tidy(() => net.embed(images))
              : pgdStep(net, images, labels, 0.01);
        return out.data().finally(() => out.dispose());
      };
      const ms = await timeMedian(step, warmup, reps);
      tf.dispose([images, labels]);
      rows.push({
        framework: 'tfjs',
        backend: info.requested,
        mode,
        height,
        channels,
        batch,
        threads: 1,
        median_ms: round(ms, 2),
        img_per_s: round((batch * 1000) / ms, 1),
        fused,
      });
    }
  } finally {
    net.dispose();
    optimizer.dispose();
  }
  return rows;
}

/** One training step as the trainer takes it: the loss's gradients, then one Adam step; returns the loss. */
function trainStep(optimizer: AdamState, loss: () => tf.Scalar): tf.Scalar {
  const { value, grads } = tf.variableGrads(loss);
  optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  return value;
}

export interface TorchBaseline {
  rows: BenchRow[];
  /** Why no rows came back (the script failed). */
  error?: string;
}

/** The PyTorch baseline script of this repository, relative to its root. */
export const TORCH_REFERENCE_SCRIPT = 'bench/reference-net/torch_reference.py';

/**
 * Whether `python` runs and can import torch: its version, or a message saying what is missing and how
 * to get it. Checked before any measurement, so that `rir bench --torch` stops at once with the reason.
 */
export function probeTorch(python: string): { version: string } | { error: string } {
  const result = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      error: missing
        ? `no Python interpreter '${python}' found: the PyTorch baseline needs Python 3 with torch ` +
          '(pass --python PATH to name the interpreter, or run without --torch)'
        : `${python}: ${result.error.message}`,
    };
  }
  if (result.status !== 0) {
    const last = result.stderr.trim().split('\n').pop() ?? '';
    return {
      error: /No module named .?torch/.test(result.stderr)
        ? `PyTorch is not installed for ${python} (${last}): install it (pip install torch, or ` +
          'apt-get install python3-torch on Debian), pass --python PATH, or run without --torch'
        : `${python} could not import torch (exit ${result.status}): ${last}`,
    };
  }
  return { version: result.stdout.trim() };
}

/** One row a PyTorch script prints (a JSON object per line); height and channels when it times several shapes. */
interface TorchRowJson {
  mode: string;
  B: number;
  height?: number;
  channels?: number;
  median_ms: number;
  img_per_s: number;
  threads: number;
}

/**
 * Runs a PyTorch script and reads its rows; never throws (a failing script is reported, not fatal).
 * `shape` gives the input of rows that do not name their own.
 */
export function runTorchScript(
  python: string,
  script: string,
  args: string[],
  timeoutMs: number,
  shape?: { height: number; channels: number },
): TorchBaseline {
  if (!fs.existsSync(script)) return { rows: [], error: `PyTorch script not found: ${script}` };
  const result = spawnSync(python, [script, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (result.error) return { rows: [], error: `${python}: ${result.error.message}` };
  if (result.status !== 0)
    return {
      rows: [],
      error: `${script} exited with ${result.status}: ${result.stderr.trim().split('\n').pop()}`,
    };
  const rows: BenchRow[] = [];
  for (const line of result.stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const parsed = JSON.parse(line) as TorchRowJson;
    rows.push({
      framework: 'pytorch',
      backend: 'cpu',
      mode: parsed.mode as BenchRow['mode'],
      height: parsed.height ?? shape!.height,
      channels: parsed.channels ?? shape!.channels,
      batch: parsed.B,
      threads: parsed.threads,
      median_ms: round(parsed.median_ms, 2),
      img_per_s: round(parsed.img_per_s, 1),
    });
  }
  return { rows };
}

/** Runs the PyTorch reference script; never throws (a failing script is reported, not fatal). */
export function runTorchReference(
  python: string,
  script: string,
  options: { height: number; channels: number; threads: number; reps: number; warmup: number },
): TorchBaseline {
  const { height, channels, threads, reps, warmup } = options;
  const args = [height, channels, threads, reps, warmup].map(String);
  return runTorchScript(python, script, args, 15 * 60 * 1000, { height, channels });
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((v) => round(v, 2)),
  };
}
