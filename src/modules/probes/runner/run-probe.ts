/**
 * A probe from configuration to report, as a pure function of its inputs: load the model and the
 * probe set, run the attack suite (src/ml/robustness) at every eps, then craft the worst examples and
 * the CA+ rank distribution. Runs in a worker thread (src/workers/probe.worker.ts); framework-free.
 */
import type { AttackName, MetricName } from '../../../ml/attacks/definitions';
import { euclidean, percentileRank } from '../../../ml/attacks/distances';
import {
  prepareGallery,
  sampleQueries,
  type AttackSuiteOptions,
  type PreparedGallery,
} from '../../../ml/attacks/suite';
import { buildRobustnessReport, type RobustnessReport } from '../../../ml/robustness/report';
import type { Embedder } from '../../../ml/types';
import { loadModelVersion } from '../../../ml/model-store';
import { attackSamples } from './attack-samples';
import { amplifiedPerturbation, exampleLayout, toBytes } from './example-layout';
import { primaryEps, type ProbeConfig } from './probe-config';
import type {
  AttackSummary,
  CurvePoint,
  ProbeExample,
  ProbeReport,
  RankDistribution,
  TopResult,
} from './probe-report';
import { loadProbeSet, type LoadedProbeSet, type ProbeSetSource } from './probe-set';

export interface ProbeInput {
  modelId: string;
  modelDir: string;
  config: ProbeConfig;
  source: ProbeSetSource;
}

export interface ProbeProgress {
  /** 0..1 */
  fraction: number;
  phase: string;
  message?: string;
}

export interface ProbeHooks {
  reportProgress?: (progress: ProbeProgress) => void;
  signal?: AbortSignal;
  /** Polled inside the attack loops (a worker's event loop is busy there, so its signal cannot fire). */
  cancelled?: () => boolean;
}

/** Raw pixels of one example; the PNG is composed outside the worker. */
export interface ExampleImages {
  n: number;
  shape: [number, number, number];
  original: Uint8Array;
  adversarial: Uint8Array;
  perturbation: Uint8Array;
}

export interface ProbeOutcome {
  report: ProbeReport;
  images: ExampleImages[];
}

const RECALL_FIGURES: MetricName[] = ['ES:R', 'LTM', 'GTM'];

export class ProbeCancelledError extends Error {
  constructor() {
    super('probe cancelled');
    this.name = 'ProbeCancelledError';
  }
}

function throwIfCancelled(hooks: ProbeHooks): void {
  if (hooks.signal?.aborted || hooks.cancelled?.()) throw new ProbeCancelledError();
}

/** Lets a worker's message handlers (cancel) run between long synchronous stretches. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function suiteOptions(config: ProbeConfig, eps: number): AttackSuiteOptions {
  return {
    eps,
    alpha: config.stepSize,
    steps: config.steps,
    restarts: config.restarts,
    randomStart: config.randomStart,
    sampleSize: config.sampleSize,
    seed: config.seed,
    queriesPerCandidate: config.queriesPerCandidate,
  };
}

/** Counts finished units of work from the suite's "ATTACK: done/total" progress messages. */
class ProgressMeter {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly hooks: ProbeHooks,
  ) {}

  phase(phase: string): void {
    this.hooks.reportProgress?.({ fraction: this.done / this.total, phase });
  }

  listener(phase: string): (message: string) => void {
    return (message) => {
      throwIfCancelled(this.hooks);
      const match = /^(\S+): (\d+)\/(\d+)$/.exec(message);
      let partial = 0;
      if (match) {
        partial = Number(match[2]) / Number(match[3]);
        if (partial >= 1) {
          this.done++;
          partial = 0;
        }
      }
      const fraction = Math.min(0.99, (this.done + partial) / this.total);
      this.hooks.reportProgress?.({ fraction, phase, message });
    };
  }
}

export async function runProbe(input: ProbeInput, hooks: ProbeHooks = {}): Promise<ProbeOutcome> {
  const started = new Date();
  const { config } = input;
  const eps = primaryEps(config);
  const hasEs = config.attacks.includes('ES');
  // Work units: every attack at every eps, the strength check (plus a base ES run without ES), examples, CA+.
  const total =
    config.attacks.length * config.eps.length +
    (hasEs ? 1 : 2) +
    1 +
    (config.attacks.includes('CA+') ? 1 : 0);
  const meter = new ProgressMeter(total, hooks);
  meter.phase('loading model and probe set');
  throwIfCancelled(hooks);
  // Checks the weights against the manifest's sha256, which the report records.
  const { model: embedder, manifest } = await loadModelVersion(input.modelDir);
  const weightsSha256 = manifest.weightsSha256;
  try {
    const set = await loadProbeSet(input.source, embedder.inputShape);
    throwIfCancelled(hooks);
    const reports = new Map<number, RobustnessReport>();
    // The primary eps first (with the strength check), then the rest of the curve.
    for (const e of [eps, ...config.eps.filter((x) => x !== eps)]) {
      await yieldToEventLoop();
      throwIfCancelled(hooks);
      reports.set(
        e,
        buildRobustnessReport(embedder, set.images, {
          ...suiteOptions(config, e),
          attacks: config.attacks,
          model: input.modelId,
          dataset: set.name,
          skipStrengthCheck: e !== eps,
          onProgress: meter.listener(`attacks at eps ${e.toFixed(4)}`),
        }),
      );
    }
    await yieldToEventLoop();
    throwIfCancelled(hooks);
    const primary = reports.get(eps) as RobustnessReport;
    const gallery = prepareGallery(embedder, set.images);
    try {
      const rows = sampleQueries(gallery, config.sampleSize, config.seed);
      const options = { ...suiteOptions(config, eps), onProgress: meter.listener('examples') };
      const examples = craftExamples(embedder, gallery, set, rows, config, options);
      await yieldToEventLoop();
      throwIfCancelled(hooks);
      const candidateRanks = config.attacks.includes('CA+')
        ? rankDistribution(embedder, gallery, set, rows, {
            ...options,
            onProgress: meter.listener('CA+ rank distribution'),
          })
        : null;
      const curve = [...reports.entries()]
        .sort(([a], [b]) => a - b)
        .map(([e, r]): CurvePoint => ({
          eps: e,
          recallAt1: worstRecall(r.figures),
          figures: r.figures,
          ers: r.ers,
        }));
      const monotone = curve.every(
        (point, i) =>
          i === 0 ||
          point.recallAt1 === null ||
          curve[i - 1].recallAt1 === null ||
          point.recallAt1 <= (curve[i - 1].recallAt1 as number),
      );
      const warnings = [...primary.sanity.warnings];
      if (!monotone) {
        warnings.push(
          'R@1 under attack rises with eps somewhere on the curve: a larger budget contains every smaller perturbation, so the attack at the larger eps is too weak (more steps or restarts)',
        );
      }
      const finished = new Date();
      const report: ProbeReport = {
        version: 1,
        model: {
          id: input.modelId,
          weightsSha256,
          inputShape: embedder.inputShape,
          embeddingDim: embedder.embeddingDim,
        },
        probeSet: {
          name: set.name,
          images: set.images.labels.length,
          classes: new Set(set.images.labels).size,
          sampleSize: rows.length,
        },
        config,
        primaryEps: eps,
        clean: primary.natural,
        attacks: summarise(primary),
        figures: primary.figures,
        ers: primary.ers,
        adversarialRecallAt1: primary.adversarialRecallAt1,
        curve,
        candidateRanks,
        examples: examples.map((e) => e.info),
        sanity: {
          ...primary.sanity,
          monotoneCurve: monotone,
          warnings,
        },
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      };
      hooks.reportProgress?.({ fraction: 1, phase: 'done' });
      return { report, images: examples.map((e) => e.images) };
    } finally {
      gallery.dispose();
    }
  } finally {
    embedder.dispose();
  }
}

function worstRecall(figures: Partial<Record<MetricName, number>>): number | null {
  const values = RECALL_FIGURES.map((m) => figures[m]).filter(
    (v): v is number => typeof v === 'number',
  );
  return values.length ? Math.min(...values) : null;
}

function summarise(report: RobustnessReport): AttackSummary[] {
  // The strength check's extra ES run is appended after the configured attacks; keep the first per attack.
  const seen = new Set<AttackName>();
  return report.runs
    .filter((run) => !seen.has(run.attack) && seen.add(run.attack))
    .map((run) => ({
      attack: run.attack,
      figures: run.figures,
      cleanFigures: run.cleanFigures,
      recallAt1UnderAttack: worstRecall(run.figures),
      configuration: run.configuration,
      objectiveBefore: run.objectiveBefore,
      objectiveAfter: run.objectiveAfter,
      maxPerturbation: run.maxPerturbation,
      zeroGradientShare: run.zeroGradientShare,
      nonFiniteGradientShare: run.nonFiniteGradientShare,
    }));
}

/** The attack whose examples are shown: adversarial accuracy (ES) when it ran, else an R@1 attack, else the first. */
export function exampleAttack(attacks: AttackName[]): AttackName {
  return (['ES', 'GTM', 'LTM'] as AttackName[]).find((a) => attacks.includes(a)) ?? attacks[0];
}

function nearest(
  gallery: PreparedGallery,
  set: LoadedProbeSet,
  row: number,
  embedding: Float32Array,
): TopResult {
  const distances = gallery.table.distancesFrom(embedding);
  let best = -1;
  for (let j = 0; j < distances.length; j++)
    if (j !== row && (best < 0 || distances[j] < distances[best])) best = j;
  return {
    row: best,
    label: labelName(set, best),
    ...(set.itemIds ? { itemId: set.itemIds[best] } : {}),
    distance: distances[best],
  };
}

function labelName(set: LoadedProbeSet, row: number): string {
  const label = set.images.labels[row];
  return set.images.classNames?.[label] ?? String(label);
}

function craftExamples(
  embedder: Embedder,
  gallery: PreparedGallery,
  set: LoadedProbeSet,
  rows: number[],
  config: ProbeConfig,
  options: AttackSuiteOptions,
): { info: ProbeExample; images: ExampleImages }[] {
  if (config.examples === 0) return [];
  const attack = exampleAttack(config.attacks);
  const shape = set.images.shape;
  const per = shape[0] * shape[1] * shape[2];
  const layout = exampleLayout(shape);
  const candidates = attackSamples(embedder, gallery, attack, rows, options).map((sample) => {
    const clean = gallery.table.row(sample.row);
    const cleanTop = nearest(gallery, set, sample.row, clean);
    const attackedTop = nearest(gallery, set, sample.row, sample.embedding);
    const own = set.images.labels[sample.row];
    const flipped =
      set.images.labels[cleanTop.row] === own && set.images.labels[attackedTop.row] !== own;
    return { sample, cleanTop, attackedTop, flipped, shift: euclidean(clean, sample.embedding) };
  });
  // Worst first: a correct answer turned wrong, then the largest embedding shift.
  candidates.sort((a, b) => Number(b.flipped) - Number(a.flipped) || b.shift - a.shift);
  return candidates.slice(0, config.examples).map((c, n) => {
    const original = set.images.images.subarray(c.sample.row * per, (c.sample.row + 1) * per);
    let maxPerturbation = 0;
    for (let i = 0; i < per; i++)
      maxPerturbation = Math.max(maxPerturbation, Math.abs(c.sample.adversarial[i] - original[i]));
    return {
      info: {
        n,
        attack,
        row: c.sample.row,
        ...(set.itemIds ? { itemId: set.itemIds[c.sample.row] } : {}),
        label: labelName(set, c.sample.row),
        cleanTop: c.cleanTop,
        attackedTop: c.attackedTop,
        flipped: c.flipped,
        embeddingShift: c.shift,
        maxPerturbation,
        png: layout,
      },
      images: {
        n,
        shape,
        original: toBytes(original),
        adversarial: toBytes(c.sample.adversarial),
        perturbation: amplifiedPerturbation(original, c.sample.adversarial),
      },
    };
  });
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** CA+ per (candidate, query) pair: how far each perturbed candidate climbed in its queries' rankings. */
export function rankDistribution(
  embedder: Embedder,
  gallery: PreparedGallery,
  set: LoadedProbeSet,
  rows: number[],
  options: AttackSuiteOptions,
): RankDistribution {
  const samples = attackSamples(embedder, gallery, 'CA+', rows, options);
  const ranks: number[] = [];
  const clean: number[] = [];
  for (const sample of samples) {
    for (const q of sample.targets) {
      const query = gallery.table.row(q);
      const distances = gallery.table.distancesFrom(query);
      ranks.push(percentileRank(distances, euclidean(query, sample.embedding), [q, sample.row]));
      clean.push(percentileRank(distances, distances[sample.row], [q, sample.row]));
    }
  }
  const sorted = [...ranks].sort((a, b) => a - b);
  const share = (limit: number) =>
    ranks.length ? (100 * ranks.filter((r) => r <= limit).length) / ranks.length : 0;
  const mean = (values: number[]) =>
    values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  const histogram = Array.from({ length: 10 }, (_, i) => ({
    from: i * 10,
    to: (i + 1) * 10,
    count: ranks.filter((r) => r >= i * 10 && (i === 9 ? r <= 100 : r < (i + 1) * 10)).length,
  }));
  return {
    attack: 'CA+',
    liveGallery: set.name === 'gallery',
    queriesPerCandidate: options.queriesPerCandidate ?? 1,
    candidates: samples.length,
    ranks: {
      count: ranks.length,
      mean: mean(ranks),
      quantiles: {
        p0: quantile(sorted, 0),
        p10: quantile(sorted, 0.1),
        p25: quantile(sorted, 0.25),
        p50: quantile(sorted, 0.5),
        p75: quantile(sorted, 0.75),
        p90: quantile(sorted, 0.9),
        p100: quantile(sorted, 1),
      },
      top1PercentShare: share(1),
      top10PercentShare: share(10),
      histogram,
    },
    cleanMean: mean(clean),
  };
}
