/**
 * `rir model annotate`: writes the robustness block of a model version's manifest from a report that
 * `rir attack --json` saved earlier (the same block `rir attack --write-manifest` writes right away).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { readManifest } from '../ml/model-store';
import type { RobustnessReport } from '../ml/robustness/report';
import { reportFromJson } from '../ml/robustness/units';
import { shellWord, writeManifestBlock } from './attack.command';

interface AnnotateOptions {
  model: string;
  report: string;
  data?: string;
  command?: string;
}

/** 0.30196... -> "77/255"; other budgets as numbers. */
function budgetText(value: number): string {
  const in255 = value * 255;
  return Math.abs(in255 - Math.round(in255)) < 1e-6 ? `${Math.round(in255)}/255` : String(value);
}

/** The `rir attack` line that gives this report, rebuilt from its options. */
export function commandOfReport(report: RobustnessReport, modelDir: string): string {
  const o = report.options;
  const attacks = new Set(Object.keys(report.figures).map((f) => (f.startsWith('ES') ? 'ES' : f)));
  return [
    'rir',
    'attack',
    '--model',
    modelDir,
    '--dataset',
    report.dataset,
    '--attacks',
    attacks.size === 9 ? 'all' : [...attacks].join(','),
    '--eps',
    budgetText(o.eps),
    '--alpha',
    budgetText(o.alpha),
    '--steps',
    String(o.steps),
    '--restarts',
    String(o.restarts),
    '--sample',
    String(o.sampleSize),
    '--gallery',
    String(o.gallerySize),
    '--seed',
    String(o.seed),
    ...(report.sanity.strength ? [] : ['--no-strength-check']),
    '--json',
  ]
    .map(shellWord)
    .join(' ');
}

export async function annotate(options: AnnotateOptions): Promise<string> {
  let report: RobustnessReport;
  try {
    report = JSON.parse(await fs.readFile(options.report, 'utf8')) as RobustnessReport;
  } catch (error) {
    throw new Error(`cannot read the report ${options.report}: ${(error as Error).message}`);
  }
  if (report?.version !== 1 || !report.options || !report.figures || !report.sanity)
    throw new Error(`${options.report} is not a report of rir attack --json`);
  // In fractions (rir attack --json now) or percent (reports saved before): the block stores percent.
  report = reportFromJson(report);
  const manifest = await readManifest(options.model);
  // The report names its model "<manifest id> (<defence>)".
  if (!report.model.startsWith(`${manifest.id} `) && report.model !== manifest.id)
    throw new Error(
      `the report is of model '${report.model}', but ${options.model} holds model ${manifest.id}`,
    );
  const block = await writeManifestBlock(options.model, report, {
    data: options.data ?? report.dataset,
    command: options.command ?? commandOfReport(report, options.model),
    weightsSha256: manifest.weightsSha256,
  });
  return `wrote the robustness figures (${block.budget}) of ${options.report} into ${path.join(options.model, 'manifest.json')}`;
}

export function register(program: Command): void {
  const model = program.command('model').description('Model version directories');
  model
    .command('annotate')
    .description(
      "Write the figures of a saved `rir attack --json` report into the model's manifest.json (robustness block)",
    )
    .requiredOption('--model <dir>', 'model version directory (manifest.json + weights)')
    .requiredOption('--report <file>', 'the JSON report of rir attack --json on that model')
    .option('--data <text>', "the evaluation data (default: the report's data set)")
    .option(
      '--command <text>',
      'the command that produced the report (default: rebuilt from its options)',
    )
    .action(async (options: AnnotateOptions) => {
      process.stdout.write(`${await annotate(options)}\n`);
    });
}
