/**
 * `rir eval`: retrieval metrics of a stored model on a data set's held-out classes (Recall@K, MAP@R, NMI,
 * embedding spread), optionally next to the raw-pixel and frozen pretrained MobileNetV2 baselines; with --attacks, the attack report of `rir attack`.
 */
import type { Command } from 'commander';
import { initBackend } from '../ml/backend';
import { onHostBackend } from '../ml/backend/reads';
import { assertCompatible } from '../ml/attacks/suite';
import { loadDataset } from '../ml/data';
import {
  embedAllAsync,
  evaluateRetrieval,
  pixelEmbeddings,
  type RetrievalMetrics,
} from '../ml/metrics';
import { loadModelVersion } from '../ml/model-store';
import { createEmbeddingModel, type BackboneName } from '../ml/models';
import type { ImageSet } from '../ml/types';
import {
  BOOTSTRAP_DEFAULTS,
  chanceVerdict,
  formatEstimate,
  meanEstimate,
  rateEstimate,
  type ChanceVerdict,
  type Estimate,
} from '../ml/robustness/intervals';
import { renderReport } from '../ml/robustness/render';
import type { RobustnessReport } from '../ml/robustness/report';
import { reportInFractions } from '../ml/robustness/units';
import {
  addAttackOptions,
  ATTACK_OPTION_KEYS,
  attackRequestOf,
  runAttackReport,
  type AttackCliOptions,
} from './attack.command';

interface EvalOptions extends Partial<AttackCliOptions> {
  model: string;
  dataset: string;
  seed?: number;
  maxTest?: number;
  batchSize: number;
  baseline?: boolean;
  pretrainedBaseline?: boolean;
  json?: boolean;
}

/** Natural retrieval with its uncertainty, in fractions (0..1) as the metrics. */
export interface RetrievalEstimates {
  /** Wilson interval over the queries (items with another item of their class). */
  recallAt1: Estimate;
  /** Bootstrap over queries (2,000 resamples, seed 0). */
  mapAtR: Estimate;
  /** R@1 of a random ranking of the same items: per query the share of its class among the others, averaged. */
  chanceRecallAt1: number;
  verdict: ChanceVerdict;
}

/** How `rir eval` states its units (JSON `units`, last line of the table). */
export const EVAL_UNITS =
  'retrieval metrics, their 95% intervals and chance levels: fractions 0..1 (R@1: Wilson score interval, MAP@R: ' +
  'bootstrap over queries, 2,000 resamples, seed 0); the attack report (with --attacks): fractions too in JSON, ' +
  'percent in the table, as rir attack';

export interface EvalResult {
  modelId: string;
  dataset: string;
  count: number;
  metrics: RetrievalMetrics;
  rawPixels?: RetrievalMetrics;
  /**
   * With --pretrained-baseline: the model's own MobileNetV2 backbone before any training here (its features,
   * L2-normalised; the pooled last layer for a small-CNN model on RGB data).
   */
  pretrained?: RetrievalMetrics;
  /** Which frozen features `pretrained` measured. */
  pretrainedBackbone?: BackboneName;
  /** With --pretrained-baseline on a mobilenetv2-mid/-early model: also the conventional pooled last layer (1280-d). */
  pretrainedPooled?: RetrievalMetrics;
  seconds: number;
  /** n, 95% interval and chance level of R@1 and MAP@R, per evaluated embedding (model, rawPixels, ...). */
  estimates: Partial<
    Record<'metrics' | 'rawPixels' | 'pretrained' | 'pretrainedPooled', RetrievalEstimates>
  >;
  units: string;
  /** With --attacks: the report `rir attack` gives. */
  attack?: RobustnessReport;
}

/** Takes the per-query outcomes off the metrics and turns them into estimates. */
export function retrievalEstimates(metrics: RetrievalMetrics): RetrievalEstimates | undefined {
  const perQuery = metrics.perQuery;
  delete metrics.perQuery;
  if (!perQuery || perQuery.hitAt1.length === 0) return undefined;
  const recallAt1 = rateEstimate(perQuery.hitAt1, 1);
  const chance = perQuery.chanceAt1.reduce((a, b) => a + b, 0) / perQuery.chanceAt1.length;
  return {
    recallAt1,
    mapAtR: meanEstimate(perQuery.averagePrecision, BOOTSTRAP_DEFAULTS),
    chanceRecallAt1: chance,
    verdict: chanceVerdict(recallAt1, chance),
  };
}

export async function evaluateModel(options: EvalOptions): Promise<EvalResult> {
  const started = Date.now();
  await initBackend(process.env.TFJS_BACKEND);
  const { model, manifest } = await loadModelVersion(options.model);
  try {
    const [height, width, channels] = manifest.inputShape;
    if (channels !== 1 && channels !== 3)
      throw new Error(`model input has ${channels} channels (expected 1 or 3)`);
    if (options.pretrainedBaseline && channels !== 3) {
      throw new Error(
        `--pretrained-baseline needs a model with RGB input (MobileNetV2 is RGB); this model's input is [${manifest.inputShape.join(', ')}]`,
      );
    }
    // The split's seed only shapes the validation split and subsets; default to the one the model used.
    const seed = options.seed ?? manifest.dataset?.seed ?? 0;
    const split = await loadDataset(options.dataset, {
      seed,
      imageSize: { height, width, channels },
      maxTest: options.maxTest,
      maxTrain: 0,
      maxValidation: 0,
    });
    assertCompatible(model, split.test);
    const embeddings = await embedAllAsync(model, split.test, options.batchSize);
    // Array maths with synchronous reads: on the host's backend where the model reads back asynchronously.
    const metrics = onHostBackend(() =>
      evaluateRetrieval(embeddings, model.embeddingDim, split.test.labels, {
        seed,
        perQuery: true,
      }),
    );
    const result: EvalResult = {
      modelId: manifest.id,
      dataset: options.dataset,
      count: split.test.labels.length,
      metrics,
      seconds: 0,
      estimates: { metrics: retrievalEstimates(metrics) },
      units: EVAL_UNITS,
    };
    if (options.baseline) {
      const pixels = pixelEmbeddings(split.test);
      result.rawPixels = onHostBackend(() =>
        evaluateRetrieval(pixels.embeddings, pixels.dim, split.test.labels, {
          seed,
          perQuery: true,
        }),
      );
      result.estimates.rawPixels = retrievalEstimates(result.rawPixels);
    }
    if (options.pretrainedBaseline) {
      // The same test images at the model's input size through the pretrained network, no training here.
      const frozenBackbone: BackboneName = manifest.backbone.startsWith('mobilenetv2')
        ? manifest.backbone
        : 'mobilenetv2';
      result.pretrained = await frozenMetrics(frozenBackbone, split.test, options.batchSize, seed);
      result.estimates.pretrained = retrievalEstimates(result.pretrained);
      result.pretrainedBackbone = frozenBackbone;
      if (frozenBackbone !== 'mobilenetv2') {
        result.pretrainedPooled = await frozenMetrics(
          'mobilenetv2',
          split.test,
          options.batchSize,
          seed,
        );
        result.estimates.pretrainedPooled = retrievalEstimates(result.pretrainedPooled);
      }
    }
    result.seconds = (Date.now() - started) / 1000;
    return result;
  } finally {
    model.dispose();
  }
}

async function frozenMetrics(
  backbone: BackboneName,
  test: ImageSet,
  batchSize: number,
  seed: number,
): Promise<RetrievalMetrics> {
  const [height, width] = test.shape;
  const frozen = await createEmbeddingModel({
    backbone,
    inputShape: [height, width, 3],
    head: false,
  });
  try {
    const features = await embedAllAsync(frozen, test, batchSize);
    return onHostBackend(() =>
      evaluateRetrieval(features, frozen.embeddingDim, test.labels, { seed, perQuery: true }),
    );
  } finally {
    frozen.dispose();
  }
}

function row(name: string, m: RetrievalMetrics): string {
  const f = (x: number) => x.toFixed(4);
  return `${name.padEnd(12)} ${f(m.recallAt1)}  ${f(m.recallAt2)}  ${f(m.recallAt4)}  ${f(m.recallAt8)}  ${f(m.mapAtR)}  ${f(m.nmi)}  ${f(m.meanPairwiseDistance)}`;
}

/** "model        R@1 0.9660 [0.9605, 0.9707], n = 4,861 (chance 0.1012, above chance); MAP@R ..." */
export function estimateRow(name: string, e: RetrievalEstimates | undefined): string | null {
  if (!e) return null;
  return (
    `${name.padEnd(12)} R@1 ${formatEstimate(e.recallAt1, { digits: 4 })} (chance ${e.chanceRecallAt1.toFixed(4)}, ${e.verdict}); ` +
    `MAP@R ${formatEstimate(e.mapAtR, { digits: 4 })}`
  );
}

export function register(program: Command): void {
  const command = program
    .command('eval')
    .description("Evaluate a model's retrieval on a data set's held-out (test) classes")
    .requiredOption('--model <dir>', 'model version directory')
    .requiredOption(
      '--dataset <spec>',
      'mnist | mnist-all | iconify | emoji | idx:IMAGES,LABELS | folder:PATH',
    )
    .option('--seed <n>', 'split seed (default: the one in the model manifest)', (v) =>
      Number.parseInt(v, 10),
    )
    .option('--max-test <n>', 'evaluate on at most N test images', (v) => Number.parseInt(v, 10))
    .option('--batch-size <n>', 'embedding batch size', (v) => Number.parseInt(v, 10), 256)
    .option('--baseline', 'also evaluate raw pixels (Euclidean kNN)')
    .option(
      '--pretrained-baseline',
      "also evaluate the frozen pretrained MobileNetV2 features of the model's backbone (and the pooled last layer), L2-normalised, same input size",
    )
    .option('--json', 'print the result as JSON')
    .action(async (options: EvalOptions, cmd: Command) => {
      // Attack options are checked before the model is loaded; without --attacks they would be ignored.
      const attackRequest =
        options.attacks === undefined
          ? undefined
          : attackRequestOf(
              options as AttackCliOptions,
              options.model,
              options.dataset,
              options.seed,
            );
      const stray = ATTACK_OPTION_KEYS.find((key) => cmd.getOptionValueSource(key) === 'cli');
      if (!attackRequest && stray) {
        const flag = cmd.options.find((option) => option.attributeName() === stray)?.long;
        throw new Error(`${flag ?? stray} needs --attacks`);
      }
      const result = await evaluateModel(options);
      if (attackRequest)
        result.attack = await runAttackReport(attackRequest, options.json === true);
      if (options.json) {
        const json = result.attack
          ? { ...result, attack: reportInFractions(result.attack) }
          : result;
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const lines = [
        `model ${result.modelId} on ${result.dataset} test classes (${result.count} images, ${result.seconds.toFixed(1)} s)`,
        `${''.padEnd(12)} R@1     R@2     R@4     R@8     MAP@R   NMI     spread`,
        row('model', result.metrics),
      ];
      if (result.pretrained)
        lines.push(
          row(
            result.pretrainedBackbone === 'mobilenetv2'
              ? 'frozen mnv2'
              : `frozen ${result.pretrainedBackbone?.replace('mobilenetv2-', '')}`,
            result.pretrained,
          ),
        );
      if (result.pretrainedPooled) lines.push(row('frozen mnv2', result.pretrainedPooled));
      if (result.rawPixels) lines.push(row('raw pixels', result.rawPixels));
      const e = result.estimates;
      const intervals = [
        estimateRow('model', e.metrics),
        estimateRow(
          result.pretrainedBackbone === 'mobilenetv2'
            ? 'frozen mnv2'
            : `frozen ${result.pretrainedBackbone?.replace('mobilenetv2-', '')}`,
          e.pretrained,
        ),
        estimateRow('frozen mnv2', e.pretrainedPooled),
        estimateRow('raw pixels', e.rawPixels),
      ].filter((line): line is string => line !== null);
      if (intervals.length) lines.push('', ...intervals, `(${EVAL_UNITS})`);
      if (result.attack) lines.push('', renderReport(result.attack));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  addAttackOptions(command); // added after the action: --help lists them last
}
