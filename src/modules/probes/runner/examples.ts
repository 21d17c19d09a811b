/**
 * What a probe shows beyond the suite's means: the worst examples (images plus the clean and attacked
 * top results) and, for CA+, the distribution of the ranks perturbed candidates reach. Framework-free.
 */
import type { AttackName } from '../../../ml/attacks/definitions';
import { euclidean, percentileRank } from '../../../ml/distances';
import {
  runAttackAsync,
  type AttackedSample,
  type AttackSuiteOptions,
  type PreparedGallery,
} from '../../../ml/attacks/suite';
import type { Embedder } from '../../../ml/types';
import { amplifiedPerturbation, exampleLayout, toBytes } from './example-layout';
import type { ProbeConfig } from './probe-config';
import type { ProbeExample, RankDistribution, TopResult } from './probe-report';
import type { LoadedProbeSet } from './probe-set';

/** Raw pixels of one example; the PNG is composed outside the worker. */
export interface ExampleImages {
  n: number;
  shape: [number, number, number];
  original: Uint8Array;
  adversarial: Uint8Array;
  perturbation: Uint8Array;
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

/**
 * The suite's runAttack, keeping each sample: the examples show the images the figures were measured on.
 * Reads back asynchronously, so that probes run on webgpu too.
 */
async function attackedSamples(
  embedder: Embedder,
  gallery: PreparedGallery,
  attack: AttackName,
  rows: number[],
  options: AttackSuiteOptions,
): Promise<AttackedSample[]> {
  const run = await runAttackAsync(embedder, gallery, attack, rows, {
    ...options,
    keepSamples: true,
  });
  return run.attacked ?? [];
}

function labelName(set: LoadedProbeSet, row: number): string {
  const label = set.images.labels[row];
  return set.images.classNames?.[label] ?? String(label);
}

export async function craftExamples(
  embedder: Embedder,
  gallery: PreparedGallery,
  set: LoadedProbeSet,
  rows: number[],
  config: ProbeConfig,
  options: AttackSuiteOptions,
): Promise<{ info: ProbeExample; images: ExampleImages }[]> {
  if (config.examples === 0) return [];
  const attack = exampleAttack(config.attacks);
  const shape = set.images.shape;
  const per = shape[0] * shape[1] * shape[2];
  const layout = exampleLayout(shape);
  const samples = await attackedSamples(embedder, gallery, attack, rows, options);
  const candidates = samples.map((sample) => {
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
export async function rankDistribution(
  embedder: Embedder,
  gallery: PreparedGallery,
  set: LoadedProbeSet,
  rows: number[],
  options: AttackSuiteOptions,
): Promise<RankDistribution> {
  const samples = await attackedSamples(embedder, gallery, 'CA+', rows, options);
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
