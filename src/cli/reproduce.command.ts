/**
 * `rir reproduce`: trains every defence on every data set under a stated budget, attacks each with the
 * whole suite, and writes docs/RESULTS.md. Resumable: finished runs are skipped, unfinished ones resume.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { initBackend } from '../ml/backend';
import {
  DEFAULT_DEFENSES,
  describeMachine,
  optionsForSeed,
  reproduceRun,
  seedsOf,
  validateReproduce,
  type ReproduceOptions,
  type RunRecord,
} from '../ml/robustness/reproduce';
import { BUDGET_NAMES, type BudgetName } from '../ml/robustness/reproduce-budget';
import { budgetFor, MIN_QUERIES_MEDIUM } from '../ml/robustness/reproduce-budgets';
import {
  halfWidthAt50,
  keepHandWrittenSections,
  renderResultsPage,
} from '../ml/robustness/results-page';

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function register(program: Command): void {
  program
    .command('reproduce')
    .description(
      'Train every defence on every data set, attack each with the whole suite, write docs/RESULTS.md',
    )
    .option('--datasets <list>', 'comma-separated data sets', 'mnist')
    .option('--defenses <list>', 'comma-separated defences', DEFAULT_DEFENSES.join(','))
    .option(
      '--out <dir>',
      'where runs are kept (one folder per data set and defence)',
      'docs/results',
    )
    .option('--results <file>', 'the results page to write', 'docs/RESULTS.md')
    .option(
      '--budget <name>',
      `${BUDGET_NAMES.join(' | ')} (robrank: RobRank's MNIST protocol, --datasets mnist-all)`,
      'small',
    )
    .option('--seed <n>', 'seed of data subsets, sampling and attacks', '0')
    .option(
      '--seeds <list>',
      'train and attack every configuration once per seed (e.g. 0,1,2) and report mean and spread over seeds; ' +
        'the first seed uses --out, the others --out/seed-<s>',
    )
    .action(async (options) => {
      const started = new Date();
      const reproduce: ReproduceOptions = {
        datasets: list(options.datasets),
        defenses: list(options.defenses),
        outDir: options.out,
        budget: options.budget as BudgetName,
        seed: Number(options.seed),
        seeds: options.seeds === undefined ? undefined : list(options.seeds).map(Number),
        log: (line) => console.log(`${new Date().toISOString()} ${line}`),
      };
      validateReproduce(reproduce); // unknown names fail here, before anything trains
      for (const dataset of reproduce.datasets) {
        const queries = budgetFor(dataset, reproduce.budget).evaluation.sampleSize;
        if (queries < MIN_QUERIES_MEDIUM)
          reproduce.log?.(
            `note: budget '${reproduce.budget}' attacks ${queries} queries on ${dataset}: its intervals are wide ` +
              `(up to ±${halfWidthAt50(queries).toFixed(1)} points for a rate near 50%)`,
          );
      }
      const backend = await initBackend(process.env.TFJS_BACKEND);
      const command = `rir reproduce ${process.argv.slice(3).join(' ')}`.trim();
      const runs: RunRecord[] = [];
      const writePage = async () => {
        const notesFile = path.join(options.out, 'NOTES.md');
        const notes = await fs.readFile(notesFile, 'utf8').catch(() => undefined);
        const finished = new Date();
        const budgets = Object.fromEntries(
          reproduce.datasets.map((d) => [d, budgetFor(d, reproduce.budget)]),
        );
        const page = renderResultsPage({
          runs,
          command,
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          durationSeconds: (finished.getTime() - started.getTime()) / 1000,
          machine: describeMachine(backend.name),
          budgets,
          budgetName: reproduce.budget,
          notes,
        });
        await fs.mkdir(path.dirname(options.results), { recursive: true });
        const previous = await fs.readFile(options.results, 'utf8').catch(() => null);
        await fs.writeFile(options.results, keepHandWrittenSections(page, previous));
      };
      for (const dataset of reproduce.datasets) {
        for (const seed of seedsOf(reproduce)) {
          for (const defense of reproduce.defenses) {
            runs.push(await reproduceRun(dataset, defense, optionsForSeed(reproduce, seed)));
            await writePage(); // partial results are on the page as soon as a run finishes
          }
        }
      }
      console.log(`wrote ${options.results}`);
    });
}
