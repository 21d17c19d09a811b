/**
 * A probe from configuration to report, as a pure function of its inputs: load the model and the
 * probe set, run the attack suite (src/ml/robustness) at every eps, then craft the worst examples and
 * the CA+ rank distribution. Runs in a worker thread (src/workers/attack.worker.ts); framework-free.
 */
import type { AttackName } from '../../../ml/attacks/definitions';
import {
  prepareGalleryAsync,
  sampleQueries,
  type AttackProgress,
  type AttackSuiteOptions,
} from '../../../ml/attacks/suite';
import { buildRobustnessReportAsync, type RobustnessReport } from '../../../ml/robustness/report';
import { loadModelVersion } from '../../../ml/model-store';
import { rawCurveMonotone, recallCurve, worstRecall } from './curve';
import { craftExamples, rankDistribution, type ExampleImages } from './examples';
import { primaryEps, type ProbeConfig } from './probe-config';
import type { AttackSummary, ProbeReport } from './probe-report';
import { loadProbeSet, type ProbeSetSource } from './probe-set';

export type { ExampleImages };

export interface ProbeInput {
  modelId: string;
  modelDir: string;
  config: ProbeConfig;
  source: ProbeSetSource;
}

/** Where a probe is: its phase, the share done, and within an attack how many queries it has done. */
export interface ProbeProgress {
  phase: string;
  /** 0..1 */
  fraction: number;
  /** The attack running, with `done` of its `total` queries attacked. */
  attack?: AttackName;
  done?: number;
  total?: number;
}

export interface ProbeHooks {
  reportProgress?: (progress: ProbeProgress) => void;
  signal?: AbortSignal;
  /** Polled inside the attack loops (a worker's event loop is busy there, so its signal cannot fire). */
  cancelled?: () => boolean;
}

export interface ProbeOutcome {
  report: ProbeReport;
  images: ExampleImages[];
}

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

/** Counts finished units of work (an attack run at one eps, examples, CA+ ranks) from the suite's progress. */
class ProgressMeter {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly hooks: ProbeHooks,
  ) {}

  phase(phase: string): void {
    this.hooks.reportProgress?.({ fraction: this.done / this.total, phase });
  }

  listener(phase: string): (progress: AttackProgress) => void {
    return ({ attack, done, total }) => {
      throwIfCancelled(this.hooks);
      let partial = total > 0 ? done / total : 1;
      if (partial >= 1) {
        this.done++;
        partial = 0;
      }
      const fraction = Math.min(0.99, (this.done + partial) / this.total);
      this.hooks.reportProgress?.({ phase, fraction, attack, done, total });
    };
  }
}

export async function runProbe(input: ProbeInput, hooks: ProbeHooks = {}): Promise<ProbeOutcome> {
  const started = new Date();
  const { config } = input;
  const eps = primaryEps(config);
  const hasEs = config.attacks.includes('ES');
  // Work units: every attack at every eps, the strength check (plus a base ES run without ES), examples, CA+.
  const recallAttacks = config.attacks.filter((a) => ['ES', 'LTM', 'GTM'].includes(a)).length;
  // Work units: the suite and its two strength checks (plus a base ES run without ES), the curve (R@1
  // attacks again at the primary eps, every attack elsewhere), examples, CA+ ranks.
  const total =
    config.attacks.length +
    (hasEs ? 2 : 3) +
    recallAttacks +
    config.attacks.length * (config.eps.length - 1) +
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
    await yieldToEventLoop();
    // The full suite (figures, ERS, sanity with the strength check) at the primary eps: the same
    // computation as `rir attack`. Every read back is asynchronous: probes run on webgpu too.
    const primary = await buildRobustnessReportAsync(embedder, set.images, {
      ...suiteOptions(config, eps),
      attacks: config.attacks,
      model: input.modelId,
      dataset: set.name,
      onProgress: meter.listener(`attacks at eps ${eps.toFixed(4)}`),
    });
    const gallery = await prepareGalleryAsync(embedder, set.images);
    try {
      const rows = sampleQueries(gallery, config.sampleSize, config.seed);
      const between = async (): Promise<void> => {
        await yieldToEventLoop();
        throwIfCancelled(hooks);
      };
      const curve = await recallCurve({
        embedder,
        gallery,
        rows,
        attacks: config.attacks,
        eps: [...config.eps].sort((a, b) => a - b),
        measured: new Map([[eps, primary.figures]]),
        measuredEstimates: new Map([[eps, primary.estimates.figures]]),
        chance: primary.chance,
        optionsAt: (e) => ({
          ...suiteOptions(config, e),
          onProgress: meter.listener(`curve at eps ${e.toFixed(4)}`),
        }),
        between,
      });
      await between();
      const options = { ...suiteOptions(config, eps), onProgress: meter.listener('examples') };
      const examples = await craftExamples(embedder, gallery, set, rows, config, options);
      await between();
      const candidateRanks = config.attacks.includes('CA+')
        ? await rankDistribution(embedder, gallery, set, rows, {
            ...options,
            onProgress: meter.listener('CA+ rank distribution'),
          })
        : null;
      const monotone = rawCurveMonotone(curve);
      const warnings = [...primary.sanity.warnings];
      if (!monotone) {
        warnings.push(
          'R@1 under attack measured at each eps alone rises with eps somewhere: a larger budget contains every smaller perturbation, so the attack at the larger eps is too weak (more steps, restarts or a smaller step); the curve reports the worst case per query',
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
        chance: primary.chance,
        attacks: summarise(primary),
        figures: primary.figures,
        estimates: primary.estimates,
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

function summarise(report: RobustnessReport): AttackSummary[] {
  // The strength check's extra ES run is appended after the configured attacks; keep the first per attack.
  const seen = new Set<AttackName>();
  return report.runs
    .filter((run) => !seen.has(run.attack) && seen.add(run.attack))
    .map((run) => ({
      attack: run.attack,
      figures: run.figures,
      cleanFigures: run.cleanFigures,
      estimates: run.estimates,
      cleanEstimates: run.cleanEstimates,
      recallAt1UnderAttack: worstRecall(run.figures),
      configuration: run.configuration,
      objectiveBefore: run.objectiveBefore,
      objectiveAfter: run.objectiveAfter,
      maxPerturbation: run.maxPerturbation,
      zeroGradientShare: run.zeroGradientShare,
      nonFiniteGradientShare: run.nonFiniteGradientShare,
    }));
}
