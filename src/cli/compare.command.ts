/**
 * `rir compare`: a defended and an undefended model's attack reports (`rir attack --json`, same queries)
 * side by side: folds of ERS, ES:R, LTM and GTM with paired bootstrap intervals.
 */
import { promises as fs } from 'fs';
import type { Command } from 'commander';
import { compareReports, renderComparison, type ReportComparison } from '../ml/robustness/compare';
import type { RobustnessReport } from '../ml/robustness/report';
import { reportFromJson } from '../ml/robustness/units';

interface CompareOptions {
  defended: string;
  baseline: string;
  json?: boolean;
}

async function readReport(file: string): Promise<RobustnessReport> {
  const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file}: ${error.code ?? error.message}`);
  });
  let json: RobustnessReport;
  try {
    json = JSON.parse(text) as RobustnessReport;
  } catch {
    throw new Error(`${file} is not JSON (expected the output of rir attack --json)`);
  }
  // In fractions (rir attack --json now) or percent (reports saved before): the suite's scale.
  return reportFromJson(json);
}

export async function compare(options: CompareOptions): Promise<ReportComparison> {
  const comparison = compareReports(
    await readReport(options.defended),
    await readReport(options.baseline),
  );
  process.stdout.write(
    options.json ? `${JSON.stringify(comparison, null, 2)}\n` : renderComparison(comparison),
  );
  return comparison;
}

export function register(program: Command): void {
  program
    .command('compare')
    .description(
      'Compare two attack reports on the same queries: ERS and R@1 folds with paired bootstrap intervals',
    )
    .requiredOption(
      '--defended <report>',
      'attack report (rir attack --json) of the defended model',
    )
    .requiredOption('--baseline <report>', 'attack report of the undefended model, same queries')
    .option('--json', 'print the comparison as JSON')
    .action(async (options: CompareOptions) => {
      await compare(options);
    });
}
