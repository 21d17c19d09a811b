/**
 * `rir attack`: the attack suite against a stored model on a data set's test split, in a worker thread;
 * a table on the terminal, the report as JSON with --json; with --write-manifest the figures also go
 * into the model directory's manifest.json (its robustness block).
 */
import * as path from 'path';
import type { Command } from 'commander';
import { formatAttackProgress, type AttackProgress } from '../ml/attacks/suite';
import { readManifest, updateManifest, type RobustnessBlock } from '../ml/model-store';
import { parseBudget, validateRequest, type RobustnessRequest } from '../ml/robustness/evaluate';
import { robustnessBlockFromReport } from '../ml/robustness/manifest-block';
import { renderReport } from '../ml/robustness/render';
import type { RobustnessReport } from '../ml/robustness/report';
import type { AttackThreadInput } from '../workers/attack.worker';
import { runThread, workerEntry } from '../workers/thread';
import { reportInFractions } from '../ml/robustness/units';

function integer(name: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value)) throw new Error(`${name} must be an integer (got '${text}')`);
    return value;
  };
}

/** Runs the evaluation in a worker thread (the attack work entry, which probes use too). */
export function runInWorker(
  request: RobustnessRequest,
  onProgress: (progress: AttackProgress) => void,
): Promise<RobustnessReport> {
  return runThread<RobustnessReport, AttackProgress>(
    workerEntry(path.join(__dirname, '..', 'workers'), 'attack.worker'),
    { kind: 'evaluate', request, backend: process.env.TFJS_BACKEND } satisfies AttackThreadInput,
    { onProgress },
  );
}

/** The attack options `rir attack` and `rir eval --attacks` share (their seeds differ, so no --seed). */
export interface AttackCliOptions {
  attacks?: string;
  eps: string;
  alpha: string;
  steps: number;
  restarts: number;
  sample: number;
  gallery: number;
  strengthCheck?: boolean;
}

export const ATTACK_OPTION_KEYS = [
  'eps',
  'alpha',
  'steps',
  'restarts',
  'sample',
  'gallery',
  'strengthCheck',
] as const;

export function addAttackOptions(command: Command, attacksDefault?: string): Command {
  return command
    .option(
      '--attacks <list>',
      "'all' or a comma-separated list of CA+,CA-,QA+,QA-,TMA,ES,LTM,GTM,GTT",
      attacksDefault,
    )
    .option('--eps <e>', 'L-inf budget, a number or a fraction like 77/255', '8/255')
    .option('--alpha <a>', 'PGD step size, a number or a fraction', '3/255')
    .option('--steps <n>', 'PGD steps', integer('--steps'), 32)
    .option('--restarts <n>', 'PGD restarts (worst case per sample kept)', integer('--restarts'), 1)
    .option('--sample <n>', 'queries attacked', integer('--sample'), 200)
    .option('--gallery <n>', 'test images used as the clean gallery', integer('--gallery'), 1000)
    .option(
      '--no-strength-check',
      'skip the strength checks (2x steps + 1 restart; momentum PGD at the same budget)',
    );
}

/** Builds and checks the request: bad budgets, steps or attack names fail here, before any work. */
export function attackRequestOf(
  options: AttackCliOptions,
  modelDir: string,
  dataset: string,
  seed?: number,
): RobustnessRequest {
  const request: RobustnessRequest = {
    modelDir,
    dataset,
    attacks: options.attacks ?? 'all',
    eps: parseBudget(options.eps, '--eps'),
    alpha: parseBudget(options.alpha, '--alpha'),
    steps: options.steps,
    restarts: options.restarts,
    sampleSize: options.sample,
    gallerySize: options.gallery,
    seed,
    skipStrengthCheck: options.strengthCheck === false,
  };
  validateRequest(request);
  return request;
}

/** Runs the request in a worker (progress on stderr unless JSON) and returns the report. */
export async function runAttackReport(
  request: RobustnessRequest,
  json: boolean,
): Promise<RobustnessReport> {
  const report = await runInWorker(request, (progress) => {
    if (!json) process.stderr.write(`\r${formatAttackProgress(progress)}          `);
  });
  if (!json) process.stderr.write('\n');
  return report;
}

/** Quotes an argument for a POSIX shell where it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:,=+@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The `rir attack` command line of these options, as a person would type it again. */
export function attackCommandLine(
  options: AttackCliOptions & { model: string; dataset: string; seed: number },
  extra: string[] = [],
): string {
  const words = [
    'rir',
    'attack',
    '--model',
    options.model,
    '--dataset',
    options.dataset,
    '--attacks',
    options.attacks ?? 'all',
    '--eps',
    options.eps,
    '--alpha',
    options.alpha,
    '--steps',
    String(options.steps),
    '--restarts',
    String(options.restarts),
    '--sample',
    String(options.sample),
    '--gallery',
    String(options.gallery),
    '--seed',
    String(options.seed),
    ...(options.strengthCheck === false ? ['--no-strength-check'] : []),
    ...extra,
  ];
  return words.map(shellWord).join(' ');
}

/**
 * Writes the report's figures into the model directory's manifest.json (atomically; the weights and
 * their hash stay as they are). Refuses when the weights changed while the attack ran.
 */
export async function writeManifestBlock(
  modelDir: string,
  report: RobustnessReport,
  context: { data: string; command: string; weightsSha256: string },
): Promise<RobustnessBlock> {
  const current = (await readManifest(modelDir)).weightsSha256;
  if (current !== context.weightsSha256)
    throw new Error(
      `the weights in ${modelDir} changed while the attack ran (sha256 ${context.weightsSha256} -> ${current}); ` +
        'the manifest was not changed',
    );
  const block = robustnessBlockFromReport(report, context);
  await updateManifest(modelDir, { robustness: block });
  return block;
}

export function register(program: Command): void {
  const command = program
    .command('attack')
    .description(
      'Run the DML attack suite (RobRank) against a model and report the figures, ERS and sanity checks',
    )
    .requiredOption('--model <dir>', 'model version directory (manifest.json + weights)')
    .requiredOption(
      '--dataset <spec>',
      'mnist | mnist-all | idx:IMAGES,LABELS | folder:PATH (its test classes are attacked)',
    );
  addAttackOptions(command, 'all')
    .option('--seed <n>', 'seed of the gallery subset, queries and targets', integer('--seed'), 0)
    .option('--json', 'print the report as JSON (rates, ranks and ERS as fractions in [0, 1])')
    .option(
      '--write-manifest',
      "also write the figures (natural R@1, ES:R, LTM, GTM, their worst, ERS, with 95% intervals) into the model's manifest.json",
    )
    .action(
      async (
        options: AttackCliOptions & {
          model: string;
          dataset: string;
          seed: number;
          json?: boolean;
          writeManifest?: boolean;
        },
      ) => {
        const request = attackRequestOf(options, options.model, options.dataset, options.seed);
        // The hash of the weights attacked, to refuse writing figures next to other weights.
        const weightsSha256 = options.writeManifest
          ? (await readManifest(options.model)).weightsSha256
          : '';
        const report = await runAttackReport(request, options.json === true);
        process.stdout.write(
          options.json
            ? `${JSON.stringify(reportInFractions(report), null, 2)}\n`
            : `${renderReport(report)}\n`,
        );
        if (options.writeManifest) {
          const block = await writeManifestBlock(options.model, report, {
            data: options.dataset,
            command: attackCommandLine(options, ['--write-manifest']),
            weightsSha256,
          });
          process.stderr.write(
            `wrote the robustness figures (${block.budget}) into ${path.join(options.model, 'manifest.json')}\n`,
          );
        }
      },
    );
}
