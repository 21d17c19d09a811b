/**
 * Turns the outputs of one bench/gpu/check.sh run into the one JSON file it leaves: every row measured,
 * and tfjs-on-WebGPU / PyTorch-on-CUDA ratios for each mode of the reference net and the production small
 * CNN against the 0.5x target (issue 19), with the optimizer-step rows and each step's exit status.
 *
 *   node summarize-check.js DIR OUT_FILE   (DIR holds the *.jsonl and meta.json that check.sh wrote)
 */
import * as fs from 'fs';
import * as path from 'path';
import { round } from '../lib/stats';
import { runMain } from '../lib/args';

/** tfjs on WebGPU at half PyTorch on CUDA or better, per mode (issue 19). */
export const GPU_TARGET_RATIO = 0.5;

export interface GpuCheckRow {
  mode: string;
  height: number;
  channels: number;
  img_per_s: number;
  [key: string]: unknown;
}

export interface GpuCheckInput {
  /** Each source's JSON lines, by file stem: webgpu-reference, torch-reference, webgpu-production, torch-production. */
  lines: Record<string, string[]>;
  /** What check.sh recorded: date, machine, each step's exit status and seconds. */
  meta: Record<string, unknown>;
}

export interface RatioRow {
  net: 'reference' | 'production';
  mode: string;
  input: string;
  batch: number;
  tfjsImgPerS: number | null;
  torchImgPerS: number | null;
  ratio: number | null;
  target: number;
  met: boolean | null;
}

function parseLines(lines: string[] | undefined): Record<string, unknown>[] {
  return (lines ?? [])
    .map((line) => line.trim())
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

const isRow = (row: Record<string, unknown>): row is GpuCheckRow =>
  typeof row.mode === 'string' && typeof row.img_per_s === 'number';

function ratios(
  net: RatioRow['net'],
  tfjs: Record<string, unknown>[],
  torch: Record<string, unknown>[],
): RatioRow[] {
  // PyTorch's production rows name the batch B, every other row batch.
  const key = (row: GpuCheckRow) =>
    `${row.mode} ${row.height}x${row.height}x${row.channels} ${String(row.batch ?? row.B)}`;
  const torchRows = new Map(torch.filter(isRow).map((row) => [key(row), row]));
  const tfjsRows = tfjs.filter(isRow);
  const keys = [...new Set([...tfjsRows.map(key), ...torchRows.keys()])];
  return keys.map((k) => {
    const a = tfjsRows.find((row) => key(row) === k) ?? null;
    const b = torchRows.get(k) ?? null;
    const ratio = a && b && b.img_per_s > 0 ? round(a.img_per_s / b.img_per_s, 3) : null;
    const [mode, input, batch] = k.split(' ');
    return {
      net,
      mode,
      input,
      batch: Number(batch),
      tfjsImgPerS: a?.img_per_s ?? null,
      torchImgPerS: b?.img_per_s ?? null,
      ratio,
      target: GPU_TARGET_RATIO,
      met: ratio === null ? null : ratio >= GPU_TARGET_RATIO,
    };
  });
}

export function summarizeGpuCheck(input: GpuCheckInput): Record<string, unknown> {
  const rows = Object.fromEntries(
    Object.entries(input.lines).map(([name, lines]) => [name, parseLines(lines)]),
  );
  const production = rows['webgpu-production'] ?? [];
  const table = [
    ...ratios('reference', rows['webgpu-reference'] ?? [], rows['torch-reference'] ?? []),
    ...ratios(
      'production',
      production.filter((row) => row.bench !== 'optimizer-step'),
      rows['torch-production'] ?? [],
    ),
  ];
  const measured = table.filter((row) => row.met !== null);
  return {
    ...input.meta,
    ratios: table,
    targetsMet: `${measured.filter((row) => row.met).length} of ${table.length}`,
    optimizerStep: production.filter((row) => row.bench === 'optimizer-step'),
    rows,
  };
}

async function main(): Promise<void> {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) throw new Error('usage: summarize-check DIR OUT_FILE');
  const lines: Record<string, string[]> = {};
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort())
    lines[path.basename(file, '.jsonl')] = fs
      .readFileSync(path.join(dir, file), 'utf8')
      .split('\n');
  const metaFile = path.join(dir, 'meta.json');
  const meta = fs.existsSync(metaFile)
    ? (JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Record<string, unknown>)
    : {};
  const summary = summarizeGpuCheck({ lines, meta });
  fs.writeFileSync(out, `${JSON.stringify(summary, null, 1)}\n`);
  console.log(JSON.stringify({ out, ratios: summary.ratios, targetsMet: summary.targetsMet }));
}

if (require.main === module) runMain('summarize-check', main);
