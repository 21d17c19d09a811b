/**
 * Writes docs/RESULTS.md from the reproduction runs: tables per data set (every figure with n and its 95%
 * interval, chance levels, folds with a paired bootstrap, mean and spread over seeds), sanity figures,
 * the claim check.
 */
import { METRIC_NAMES, type MetricName } from '../attacks/definitions';
import { RECALL_METRICS } from './estimates';
import {
  formatFold,
  pairedFold,
  rateFromAggregate,
  wilson,
  BOOTSTRAP_DEFAULTS,
  type Fold,
} from './intervals';
import {
  INTERVAL_CONVENTION,
  MORE_ROBUST,
  chanceSentence,
  figureEstimate,
  formatErsEstimate,
  formatFigureEstimate,
  formatPercentEstimate,
} from './render';
import type { MachineDescription, RunRecord } from './reproduce';
import type { ReproductionBudget } from './reproduce-budget';
import { ROBRANK_MNIST_PUBLISHED } from './robrank';

export interface ResultsPageInput {
  runs: RunRecord[];
  command: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: MachineDescription;
  budgets: Record<string, ReproductionBudget>;
  budgetName: string;
  /** Free text appended as the discussion (docs/results/NOTES.md). */
  notes?: string;
}

const pct = (value: unknown): string =>
  typeof value === 'number' && Number.isFinite(value) ? (100 * value).toFixed(1) : '-';
const num = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);

function pointFold(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined) return '-';
  if (base === 0) return value === 0 ? '1.0x (both 0)' : `inf (undefended 0)`;
  return `${(value / base).toFixed(1)}x`;
}

/** The per-query values of one figure in a run's report (its configured attack's run). */
function perQueryOf(run: RunRecord, metric: MetricName): number[] | undefined {
  const attack = metric.startsWith('ES') ? 'ES' : metric;
  return run.report.runs?.find((r) => r.attack === attack)?.perQuery?.[metric];
}

/**
 * metric(run) / metric(base) with a paired bootstrap over their common queries; null when the reports
 * lack per-query values or were measured on different queries.
 */
export function foldOf(run: RunRecord, base: RunRecord, metric: MetricName): Fold | null {
  const a = perQueryOf(run, metric);
  const b = perQueryOf(base, metric);
  const qa = run.report.queries;
  const qb = base.report.queries;
  if (!a || !b || !qa || !qb || qa.length !== qb.length || qa.some((q, i) => q !== qb[i]))
    return null;
  return pairedFold(a, b, BOOTSTRAP_DEFAULTS);
}

function foldText(run: RunRecord, base: RunRecord | undefined, metric: MetricName): string {
  if (!base) return '-';
  if (base === run) return '1.0x (reference)';
  const fold = foldOf(run, base, metric);
  if (fold) return formatFold(fold);
  return `${pointFold(run.report.figures[metric], base.report.figures[metric])} (no per-query values: no interval)`;
}

/** Natural R@1 of the whole test split (a fraction in the manifest) as a percent estimate. */
function testSetEstimate(run: RunRecord, key: 'recallAt1' | 'mapAtR'): string {
  const value = run.naturalTestMetrics[key];
  const count = run.naturalTestMetrics.count;
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  if (key === 'recallAt1' && typeof count === 'number' && count > 0)
    return formatPercentEstimate(rateFromAggregate(100 * value, count));
  return pct(value);
}

const seedOf = (run: RunRecord): number => run.seed ?? run.report.options?.seed ?? 0;

function meanAndSpread(values: number[], digits = 1): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '-';
  const m = finite.reduce((a, b) => a + b, 0) / finite.length;
  const sd =
    finite.length > 1
      ? Math.sqrt(finite.reduce((a, b) => a + (b - m) ** 2, 0) / (finite.length - 1))
      : NaN;
  const range = `${Math.min(...finite).toFixed(digits)}..${Math.max(...finite).toFixed(digits)}`;
  return Number.isFinite(sd)
    ? `${m.toFixed(digits)} ± ${sd.toFixed(digits)} (${range})`
    : `${m.toFixed(digits)} (one seed)`;
}

/** Half-width (points) of a rate's 95% interval at 50% with n queries: how wide a small budget's intervals are. */
export function halfWidthAt50(n: number): number {
  const w = wilson(Math.round(n / 2), n);
  return (100 * (w.high - w.low)) / 2;
}

function minutes(seconds: number): string {
  return Number.isFinite(seconds) ? `${(seconds / 60).toFixed(1)} min` : '-';
}

function claimCheck(runs: RunRecord[]): string[] {
  const by = (name: string) => runs.find((r) => r.defense === name);
  const none = by('none');
  const panum = by('panum');
  if (!none || !panum)
    return ['- The claim needs both the `none` and the `panum` runs; at least one is missing.'];
  const lines: string[] = [];
  const base = none.report.figures['ES:R'] ?? NaN;
  const robust = panum.report.figures['ES:R'] ?? NaN;
  const ratio = base > 0 ? robust / base : robust > 0 ? Infinity : NaN;
  const fold = foldOf(panum, none, 'ES:R');
  const intervalNote = fold
    ? ` (paired bootstrap: ${formatFold(fold)}${fold.low >= 5 ? '; the whole interval is at or above 5x' : fold.high < 5 ? '; the whole interval is below 5x' : '; the interval includes 5x'})`
    : '';
  lines.push(
    `- Adversarial R@1 (ES:R): undefended ${formatFigureEstimate('ES:R', figureEstimate(none.report, 'ES:R'))}, ` +
      `panum ${formatFigureEstimate('ES:R', figureEstimate(panum.report, 'ES:R'))} -> ${Number.isFinite(ratio) ? ratio.toFixed(1) : String(ratio)}x${intervalNote} ` +
      `(claim: >= 5x): **${ratio >= 5 ? 'met' : 'not met'}**.`,
  );
  const naturalDrop = none.report.natural.recallAt1 - panum.report.natural.recallAt1;
  lines.push(
    `- Natural R@1 on the attacked queries: undefended ${num(none.report.natural.recallAt1)}%, panum ${num(panum.report.natural.recallAt1)}% ` +
      `(drop ${num(naturalDrop)} points; claim: <= 5): **${naturalDrop <= 5 ? 'met' : 'not met'}**.`,
  );
  for (const peer of ['est', 'naive']) {
    const other = by(peer);
    if (!other) {
      lines.push(`- ERS panum vs ${peer}: the ${peer} run is missing.`);
      continue;
    }
    const a = panum.report.ers ?? NaN;
    const b = other.report.ers ?? NaN;
    const ea = panum.report.estimates?.ers;
    const eb = other.report.estimates?.ers;
    const overlap =
      ea && eb ? (ea.low <= eb.high && eb.low <= ea.high ? ' (the intervals overlap)' : '') : '';
    lines.push(
      `- ERS panum ${num(a)} vs ${peer} ${num(b)}${ea && eb ? ` (${formatErsEstimate(ea)} vs ${formatErsEstimate(eb)})` : ''}: ` +
        `**${a > b ? 'panum higher' : 'panum not higher'}**${overlap}.`,
    );
  }
  return lines;
}

export function renderResultsPage(input: ResultsPageInput): string {
  const out: string[] = [];
  out.push('# Robustness results');
  out.push('');
  out.push(
    'Generated by `rir reproduce` from the runs under `docs/results/` (one folder per data set and defence,',
  );
  out.push(
    'each with its `report.json`; model weights stay out of git). Re-running the command skips finished runs.',
  );
  out.push('');
  out.push(`- Command: \`${input.command}\``);
  const runStarts = input.runs
    .map((r) => Date.parse(r.trainedAt) - 1000 * (r.trainingSeconds || 0))
    .filter(Number.isFinite);
  const runEnds = input.runs.map((r) => Date.parse(r.report.createdAt)).filter(Number.isFinite);
  const work = input.runs.reduce(
    (sum, r) => sum + (r.trainingSeconds || 0) + (r.report.durationSeconds || 0),
    0,
  );
  if (runStarts.length > 0 && runEnds.length > 0) {
    out.push(
      `- Date: runs from ${new Date(Math.min(...runStarts)).toISOString()} to ${new Date(Math.max(...runEnds)).toISOString()}; ` +
        `training and attacks took ${minutes(work)} in all (finished runs are reused; see the list under each data set)`,
    );
  }
  out.push(
    `- This page written ${input.finishedAt} (invocation from ${input.startedAt}, ${minutes(input.durationSeconds)})`,
  );
  const m = input.machine;
  out.push(
    `- Machine: ${m.cpus}, ${m.cores} cores (shared with other work while this ran), ${m.memoryGiB} GiB, Node ${m.node}, tfjs backend ${m.backend}`,
  );
  out.push(
    `- Budget: \`${input.budgetName}\`, far below the published ones (see each data set): the numbers show the method's direction, not the paper's figures.`,
  );
  out.push(`- ${INTERVAL_CONVENTION}`);
  const sizes = [...new Set(input.runs.map((r) => r.report.options?.sampleSize).filter(Boolean))];
  const smallest = Math.min(...(sizes as number[]));
  if (Number.isFinite(smallest) && smallest < 1000) {
    out.push(
      `- Note: ${smallest} attacked queries (budgets below \`medium\` attack fewer than 1,000): the intervals are wide, ` +
        `up to ±${halfWidthAt50(smallest).toFixed(1)} points for a rate near 50%.`,
    );
  }
  out.push('');
  const datasets = [...new Set(input.runs.map((r) => r.dataset))];
  for (const dataset of datasets) {
    const runs = input.runs.filter((r) => r.dataset === dataset);
    const b = input.budgets[dataset];
    const seeds = [...new Set(runs.map(seedOf))];
    const multiSeed = seeds.length > 1;
    const baseOf = (run: RunRecord) =>
      runs.find((r) => r.defense === 'none' && seedOf(r) === seedOf(run));
    const label = (run: RunRecord) =>
      multiSeed ? `${run.defense} (seed ${seedOf(run)})` : run.defense;
    out.push(`## ${dataset}`);
    out.push('');
    if (b) {
      const attacked = [...new Set(runs.map((r) => r.report.options?.sampleSize))].filter(
        (n) => n !== undefined && n !== b.evaluation.sampleSize,
      );
      out.push(
        `Budget: ${describeBackbone(b)}, ${b.maxTrain} training images of the training classes, batch ${b.batchSize} (${b.perClass} per class), ` +
          `${b.epochs * b.stepsPerEpoch} iterations, Adam ${b.learningRate}, batch-hard triplet (margin 0.2); training PGD eps ${num(b.training.eps, 3)}, ` +
          `${b.training.steps} steps of ${num(b.training.alpha, 3)}, adversarial weight ${b.training.weight}. ` +
          (b.fineTune
            ? `The undefended model trains ${b.epochs * b.stepsPerEpoch} iterations (${b.schedule ?? 'cosine'} learning rate); every robust defence starts from it and ` +
              `fine-tunes ${b.fineTune.steps} more iterations under its own objective (constant learning rate ${b.fineTune.learningRate}). `
            : '') +
          `Evaluation on the test classes: ` +
          `${b.evaluation.sampleSize} queries${attacked.length ? ` (the reports below attacked ${attacked.join(', ')}: they were written under an earlier budget)` : ''} against a gallery of ${b.maxTest} test images (or all of them where the split has fewer), eps ${num(b.evaluation.eps * 255, 0)}/255, ` +
          `alpha ${num(b.evaluation.alpha * 255, 0)}/255, ${b.evaluation.steps} steps (TMA and GTM: ${b.evaluation.targetedStepFactor}x the steps at ` +
          `alpha/${b.evaluation.targetedStepFactor} with a cosine-decaying step, because targeted objectives overshoot).` +
          (multiSeed
            ? ` Every configuration was trained and attacked once per seed (${seeds.join(', ')}); the seed also draws the gallery, the queries and the attacks' starts.`
            : ''),
      );
      out.push('');
    }
    out.push(
      '| defence | natural R@1 (test set) | MAP@R (test set) | natural R@1 (attacked queries) | ES:R | LTM R@1 | GTM R@1 | chance R@1 | ERS | ES:R fold vs undefended (paired bootstrap) | embedding spread | training time |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const run of runs) {
      const r = run.report;
      const natural = r.estimates
        ? formatPercentEstimate(r.estimates.naturalRecallAt1)
        : formatPercentEstimate(rateFromAggregate(r.natural.recallAt1, r.options.sampleSize));
      const chance = r.chance ? `${num(r.chance.recallAt1)}%` : '-';
      const ers = r.estimates?.ers ? formatErsEstimate(r.estimates.ers) : num(r.ers);
      out.push(
        `| ${label(run)} | ${testSetEstimate(run, 'recallAt1')} | ${testSetEstimate(run, 'mapAtR')} | ${natural} | ` +
          `${formatFigureEstimate('ES:R', figureEstimate(r, 'ES:R'))} | ${formatFigureEstimate('LTM', figureEstimate(r, 'LTM'))} | ` +
          `${formatFigureEstimate('GTM', figureEstimate(r, 'GTM'))} | ${chance} | ${ers} | ${foldText(run, baseOf(run), 'ES:R')} | ` +
          `${num(r.sanity.embeddingSpread, 3)} | ${minutes(run.trainingSeconds)} |`,
      );
    }
    out.push('');
    const sentences = runs.flatMap((run) =>
      RECALL_METRICS.map((metric) => {
        const estimate = figureEstimate(run.report, metric);
        const sentence = estimate ? chanceSentence(metric, estimate) : null;
        return sentence ? `- ${label(run)}: ${sentence}` : null;
      }).filter((line): line is string => line !== null),
    );
    if (sentences.length) {
      out.push('Adversarial R@1 against chance (the R@1 of a random ranking of the same gallery):');
      out.push('');
      out.push(...sentences);
      out.push('');
    }
    if (multiSeed) {
      out.push(
        `Over seeds (${seeds.join(', ')}): mean ± standard deviation (min..max) of the per-seed figures above:`,
      );
      out.push('');
      out.push(
        '| defence | seeds | natural R@1 (attacked queries) | ES:R | LTM R@1 | GTM R@1 | ERS | ES:R fold vs undefended |',
      );
      out.push('|---|---|---|---|---|---|---|---|');
      for (const defense of [...new Set(runs.map((r) => r.defense))]) {
        const group = runs.filter((r) => r.defense === defense);
        const folds = group.map((run) => {
          const base = baseOf(run);
          if (!base) return NaN;
          const a = run.report.figures['ES:R'];
          const z = base.report.figures['ES:R'];
          if (a === undefined || z === undefined) return NaN;
          return z === 0 ? (a === 0 ? 1 : Infinity) : a / z;
        });
        out.push(
          `| ${defense} | ${group.length} | ${meanAndSpread(group.map((r) => r.report.natural.recallAt1))} | ` +
            `${meanAndSpread(group.map((r) => r.report.figures['ES:R'] ?? NaN))} | ` +
            `${meanAndSpread(group.map((r) => r.report.figures.LTM ?? NaN))} | ` +
            `${meanAndSpread(group.map((r) => r.report.figures.GTM ?? NaN))} | ` +
            `${meanAndSpread(group.map((r) => r.report.ers ?? NaN))} | ${meanAndSpread(folds)}${folds.some((f) => f === Infinity) ? ' (a seed with undefended ES:R 0 left out)' : ''} |`,
        );
      }
      out.push('');
    }
    out.push(
      'All ten figures (percent, except TMA: cosine, ES:D: distance in 0..2), with n and 95% intervals:',
    );
    out.push('');
    out.push(
      `| defence | ${METRIC_NAMES.map((n) => `${n} (${MORE_ROBUST[n] === 'higher' ? 'higher' : 'lower'} = robust)`).join(' | ')} | ERS |`,
    );
    out.push(`|---|${METRIC_NAMES.map(() => '---').join('|')}|---|`);
    for (const run of runs) {
      const ers = run.report.estimates?.ers
        ? formatErsEstimate(run.report.estimates.ers)
        : num(run.report.ers);
      out.push(
        `| ${label(run)} | ${METRIC_NAMES.map((n) => formatFigureEstimate(n, figureEstimate(run.report, n))).join(' | ')} | ${ers} |`,
      );
    }
    out.push('');
    out.push('Sanity figures:');
    out.push('');
    out.push(
      '| defence | max perturbation (eps) | zero gradients | non-finite gradients | strength check (ES:R: configured -> 2x steps, +1 restart) | another attack (ES:R: configured -> momentum PGD, same budget) | warnings |',
    );
    out.push('|---|---|---|---|---|---|---|');
    for (const run of runs) {
      const s = run.report.sanity;
      const strength = s.strength
        ? `${s.strength.baseEstimate ? formatPercentEstimate(s.strength.baseEstimate) : num(s.strength.base)} -> ` +
          `${s.strength.strongerEstimate ? formatPercentEstimate(s.strength.strongerEstimate) : num(s.strength.stronger)} ` +
          `(${s.strength.steps} steps x ${s.strength.restarts})${s.strength.warning ? ' **too weak**' : ''}`
        : '-';
      const alternative = s.alternative
        ? `${formatPercentEstimate(s.alternative.base)} -> ${formatPercentEstimate(s.alternative.alternative)}` +
          (s.alternative.warning
            ? ' **beats the configured attack by more than its interval**'
            : ' (ok)')
        : '-';
      out.push(
        `| ${label(run)} | ${num(s.maxPerturbation, 4)} (${num(s.eps, 4)}) | ${num(100 * s.zeroGradientShare)}% | ` +
          `${num(100 * s.nonFiniteGradientShare)}% | ${strength} | ${alternative} | ${s.warnings.join('; ') || '-'} |`,
      );
    }
    out.push('');
    if (dataset === 'mnist-all') out.push(...robrankComparison(runs), '');
    if (dataset === 'mnist') {
      out.push('Claim check (MNIST, docs/METHOD.md §5.2 / issue 9):');
      out.push('');
      for (const seed of seeds) {
        if (multiSeed) out.push(`Seed ${seed}:`, '');
        out.push(...claimCheck(runs.filter((r) => seedOf(r) === seed)));
        out.push('');
      }
    }
    out.push(
      'Each run (training configuration from the model manifest; times as measured on the shared machine):',
    );
    out.push('');
    for (const run of runs) {
      out.push(
        `- ${label(run)}: trained until ${run.trainedAt} (${minutes(run.trainingSeconds)}), attacked until ${run.report.createdAt} ` +
          `(${minutes(run.report.durationSeconds)}); \`${JSON.stringify(run.defenseConfig)}\``,
      );
    }
    out.push('');
  }
  if (input.notes) {
    out.push('## Discussion');
    out.push('');
    out.push(input.notes.trim());
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** Hand-written sections below this line survive `rir reproduce` rewriting the page. */
export const KEPT_SECTIONS_MARKER = '<!-- kept by rir reproduce: hand-written sections below -->';

/** The new page, followed by the marker and what followed it on the old page (if it had one). */
export function keepHandWrittenSections(newPage: string, oldPage: string | null): string {
  const at = oldPage?.indexOf(KEPT_SECTIONS_MARKER) ?? -1;
  if (oldPage === null || at < 0) return newPage;
  return `${newPage.trimEnd()}\n\n${oldPage.slice(at)}`;
}

/**
 * RobRank's published MNIST figures beside these runs' (natural R@1 of the whole test split, ERS; mean
 * and spread where several seeds ran). Their HM row is compared with `hm-ics` (robrank.ts).
 */
function robrankComparison(runs: RunRecord[]): string[] {
  const out = [
    "Beside RobRank's published MNIST figures (C2F2, all ten digits, docs/METHOD.md §9.1; their training budget is far larger, see the budget):",
    '',
    '| defence | RobRank R@1 | RobRank ERS | R@1 here (test set) | ERS here |',
    '|---|---|---|---|---|',
  ];
  for (const row of ROBRANK_MNIST_PUBLISHED) {
    const ours = runs.filter((run) => run.defense === row.defense);
    const recall = ours
      .map((run) => run.naturalTestMetrics.recallAt1)
      .filter((v): v is number => typeof v === 'number')
      .map((v) => 100 * v);
    const ers = ours.map((run) => run.report.ers).filter((v): v is number => typeof v === 'number');
    const cell = (values: number[]): string => {
      if (ours.length === 0) return 'not run';
      return values.length === 1 ? values[0].toFixed(1) : meanAndSpread(values);
    };
    out.push(
      `| ${row.defense} (RobRank: ${row.label}) | ${row.recallAt1.toFixed(1)} | ${row.ers.toFixed(1)} | ${cell(recall)} | ${cell(ers)} |`,
    );
  }
  return out;
}

function describeBackbone(budget: ReproductionBudget): string {
  if (budget.backbone === 'c2f2')
    return `C2F2 (RobRank's MNIST network, trained from scratch, ${budget.embeddingDim ?? 128}-d)`;
  if (!budget.backbone || budget.backbone === 'small-cnn') return 'small CNN';
  return `${budget.backbone} (ImageNet-initialised, fine-tuned) at ${budget.imageSize ?? 64}x${budget.imageSize ?? 64} RGB`;
}
