/**
 * The attack suite of the field (RobRank; docs/METHOD.md §6). Each attack is only a target choice,
 * an objective for the PGD engine (a per-sample loss to minimise) and the figure the literature reports.
 * Queries and candidates are items of the clean gallery; `row` is a gallery index.
 */
import * as tf from '@tensorflow/tfjs';
import {
  EmbeddingTable,
  cosine,
  euclidean,
  distancesBetween,
  percentileRank,
  ranking,
  rowDistances,
} from '../distances';
import type { PgdObjective } from './pgd';
import { sampleDistinct, type SeededRandom } from './random';

export const ATTACK_NAMES = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** The ten figures of the suite, named as in the literature. */
export const METRIC_NAMES = [
  'CA+',
  'CA-',
  'QA+',
  'QA-',
  'TMA',
  'ES:D',
  'ES:R',
  'LTM',
  'GTM',
  'GTT',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface AttackGallery {
  /** Clean embeddings of every gallery item (CPU copy for metrics). */
  table: EmbeddingTable;
  /** The same embeddings on the backend, for objectives. */
  tensor: tf.Tensor2D;
  labels: Int32Array;
  /** Sorted clean neighbours of a gallery item (itself excluded), memoised by the suite. */
  neighbours(row: number): number[];
}

export interface TargetOptions {
  /** W: queries per candidate for CA+/CA-. */
  queriesPerCandidate: number;
  /** M: candidates per query for QA+/QA-. */
  candidatesPerQuery: number;
}

export interface Objective {
  fn: PgdObjective;
  /** Constant tensors the objective captured; disposed after the attack. */
  constants: tf.Tensor[];
}

export interface AttackDefinition {
  name: AttackName;
  /** Pulls an embedding onto a point: overshoots with a large fixed step, so it gets the small-step schedule. */
  targeted: boolean;
  /** The objective has zero gradient at the clean image (ES), so PGD must start at random. */
  needsRandomStart: boolean;
  targets(gallery: AttackGallery, row: number, rng: SeededRandom, options: TargetOptions): number[];
  objective(gallery: AttackGallery, rows: number[], targets: number[][]): Objective;
  /** Per-sample figures, given the embedding of the perturbed image. */
  score(
    gallery: AttackGallery,
    row: number,
    targets: number[],
    adversarial: Float32Array,
  ): Partial<Record<MetricName, number>>;
}

/** Repeats each row of x [B,D] k times -> [B*k, D], row-major (sample i's copies are contiguous). */
function repeatRows(x: tf.Tensor2D, k: number): tf.Tensor2D {
  if (k === 1) return x;
  const [b, d] = x.shape;
  return tf.reshape(tf.tile(tf.reshape(x, [b, 1, d]), [1, k, 1]), [b * k, d]);
}

function gatherRows(gallery: AttackGallery, indices: number[]): tf.Tensor2D {
  return tf.tidy(() => tf.gather(gallery.tensor, tf.tensor1d(indices, 'int32')) as tf.Tensor2D);
}

function topPercent(gallery: AttackGallery, row: number, percent: number): number[] {
  const neighbours = gallery.neighbours(row);
  return neighbours.slice(0, Math.max(1, Math.ceil((percent / 100) * neighbours.length)));
}

function pick(pool: number[], k: number, rng: SeededRandom): number[] {
  return sampleDistinct(rng, pool.length, k).map((i) => pool[i]);
}

/** CA+ / CA-: the perturbed image is a candidate c~; W fixed queries rank it against the clean gallery. */
function candidateAttack(name: 'CA+' | 'CA-'): AttackDefinition {
  const up = name === 'CA+';
  return {
    name,
    targeted: false,
    needsRandomStart: false,
    targets: (gallery, row, rng, { queriesPerCandidate }) => {
      if (up) {
        const others = gallery.neighbours(row);
        return pick(others, queriesPerCandidate, rng);
      }
      return pick(topPercent(gallery, row, 1), queriesPerCandidate, rng);
    },
    objective: (gallery, _rows, targets) => {
      const w = targets[0].length;
      const queries = gatherRows(gallery, targets.flat());
      const queryToGallery = distancesBetween(queries, gallery.tensor); // [B*W, N]
      const fn: PgdObjective = (candidate) => {
        const toCandidate = tf.reshape(rowDistances(queries, repeatRows(candidate, w)), [-1, 1]);
        const margins = up
          ? tf.sub(toCandidate, queryToGallery)
          : tf.sub(queryToGallery, toCandidate);
        return tf.sum(tf.reshape(tf.sum(tf.relu(margins), 1), [-1, w]), 1);
      };
      return { fn, constants: [queries, queryToGallery] };
    },
    score: (gallery, row, targets, adversarial) => {
      const ranks = targets.map((q) => {
        const query = gallery.table.row(q);
        return percentileRank(gallery.table.distancesFrom(query), euclidean(query, adversarial), [
          q,
          row,
        ]);
      });
      return { [name]: mean(ranks) };
    },
  };
}

/** QA+ / QA- (and GTT): the perturbed image is a query q~; M candidates move up or down its ranking. */
function queryRankAttack(name: 'QA+' | 'QA-' | 'GTT'): AttackDefinition {
  const up = name === 'QA+';
  return {
    name,
    targeted: false,
    needsRandomStart: false,
    targets: (gallery, row, rng, { candidatesPerQuery }) => {
      if (name === 'GTT') return [gallery.neighbours(row)[0]];
      if (up) return pick(gallery.neighbours(row), candidatesPerQuery, rng);
      return pick(topPercent(gallery, row, 1), candidatesPerQuery, rng);
    },
    objective: (gallery, _rows, targets) => {
      const m = targets[0].length;
      const candidates = gatherRows(gallery, targets.flat());
      const fn: PgdObjective = (query) => {
        const toGallery = tf.expandDims(distancesBetween(query, gallery.tensor), 1); // [B,1,N]
        const toCandidates = tf.reshape(rowDistances(repeatRows(query, m), candidates), [-1, m, 1]);
        const margins = up ? tf.sub(toCandidates, toGallery) : tf.sub(toGallery, toCandidates);
        return tf.sum(tf.relu(margins), [1, 2]);
      };
      return { fn, constants: [candidates] };
    },
    score: (gallery, row, targets, adversarial) => {
      const distances = gallery.table.distancesFrom(adversarial);
      if (name === 'GTT') {
        const order = ranking(distances, [row]);
        return { GTT: order.slice(0, 4).includes(targets[0]) ? 100 : 0 };
      }
      const ranks = targets.map((c) => percentileRank(distances, distances[c], [row, c]));
      return { [name]: mean(ranks) };
    },
  };
}

/** TMA and GTM: pull q~ onto one gallery embedding. */
function matchingAttack(name: 'TMA' | 'GTM'): AttackDefinition {
  return {
    name,
    targeted: true,
    needsRandomStart: false,
    targets: (gallery, row, rng) => {
      if (name === 'TMA') return pick(gallery.neighbours(row), 1, rng);
      // The nearest item whose label differs from the label of q's original top-1.
      const neighbours = gallery.neighbours(row);
      const topLabel = gallery.labels[neighbours[0]];
      const target = neighbours.find((j) => gallery.labels[j] !== topLabel);
      if (target === undefined) throw new Error('GTM needs a gallery with at least two labels');
      return [target];
    },
    objective: (gallery, _rows, targets) => {
      const goal = gatherRows(gallery, targets.flat());
      const fn: PgdObjective = (query) => {
        if (name === 'GTM') return rowDistances(query, goal);
        const cos = tf.div(
          tf.sum(tf.mul(query, goal), 1),
          tf.add(tf.mul(tf.norm(query, 2, 1), tf.norm(goal, 2, 1)), 1e-12),
        );
        return tf.sub(1, cos);
      };
      return { fn, constants: [goal] };
    },
    score: (gallery, row, targets, adversarial) =>
      name === 'TMA'
        ? { TMA: cosine(adversarial, gallery.table.row(targets[0])) }
        : { GTM: recallAt1(gallery, row, adversarial) },
  };
}

const embeddingShift: AttackDefinition = {
  name: 'ES',
  targeted: false,
  needsRandomStart: true,
  targets: () => [],
  objective: (gallery, rows) => {
    const clean = gatherRows(gallery, rows);
    return { fn: (query) => tf.neg(rowDistances(query, clean)), constants: [clean] };
  },
  score: (gallery, row, _targets, adversarial) => ({
    'ES:D': euclidean(adversarial, gallery.table.row(row)),
    'ES:R': recallAt1(gallery, row, adversarial),
  }),
};

/** LTM: [max over other-class items d(q~,x) - min over same-class items d(q~,x)]+ . */
const learningToMisrank: AttackDefinition = {
  name: 'LTM',
  targeted: false,
  needsRandomStart: false,
  targets: () => [],
  objective: (gallery, rows) => {
    const [positives, negatives] = tf.tidy(() => {
      const n = gallery.labels.length;
      const same = new Float32Array(rows.length * n);
      rows.forEach((row, i) => {
        for (let j = 0; j < n; j++)
          if (j !== row && gallery.labels[j] === gallery.labels[row]) same[i * n + j] = 1;
      });
      const positive = tf.tensor2d(same, [rows.length, n]);
      const other = tf.tensor2d(
        same.map((_, k) =>
          gallery.labels[k % n] !== gallery.labels[rows[Math.floor(k / n)]] ? 1 : 0,
        ),
        [rows.length, n],
      );
      return [positive, other];
    });
    const fn: PgdObjective = (query) => {
      const distances = distancesBetween(query, gallery.tensor);
      const farthestNegative = tf.max(tf.mul(distances, negatives), 1);
      // Distances are at most 2: adding 4 outside the positives keeps them out of the minimum.
      const nearestPositive = tf.min(tf.add(distances, tf.mul(4, tf.sub(1, positives))), 1);
      return tf.relu(tf.sub(farthestNegative, nearestPositive));
    };
    return { fn, constants: [positives, negatives] };
  },
  score: (gallery, row, _targets, adversarial) => ({ LTM: recallAt1(gallery, row, adversarial) }),
};

/** 100 when the nearest gallery item (the query's own clean copy excluded) has the query's label. */
export function recallAt1(gallery: AttackGallery, row: number, embedding: Float32Array): number {
  const distances = gallery.table.distancesFrom(embedding);
  let best = -1;
  for (let j = 0; j < distances.length; j++) {
    if (j !== row && (best < 0 || distances[j] < distances[best])) best = j;
  }
  return best >= 0 && gallery.labels[best] === gallery.labels[row] ? 100 : 0;
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export const ATTACKS: Record<AttackName, AttackDefinition> = {
  'CA+': candidateAttack('CA+'),
  'CA-': candidateAttack('CA-'),
  'QA+': queryRankAttack('QA+'),
  'QA-': queryRankAttack('QA-'),
  TMA: matchingAttack('TMA'),
  ES: embeddingShift,
  LTM: learningToMisrank,
  GTM: matchingAttack('GTM'),
  GTT: queryRankAttack('GTT'),
};

/**
 * The attacks a request names (`rir attack --attacks`, a probe's `attacks`): 'all', a comma-separated
 * string or a list of names, case-insensitive, duplicates dropped. Throws naming every unknown name and
 * the known ones.
 */
export function parseAttackList(value: unknown): AttackName[] {
  const list =
    typeof value === 'string'
      ? value.split(',')
      : Array.isArray(value)
        ? value.map((v) => String(v))
        : null;
  if (!list) throw new Error(`attacks must be a list of names or 'all'`);
  const names = list.map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  if (names.length === 0) throw new Error('attacks must name at least one attack');
  if (names.includes('ALL')) return [...ATTACK_NAMES];
  const unknown = names.filter((n) => !(ATTACK_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(
      `unknown attack${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}: known attacks are ${ATTACK_NAMES.join(', ')} (or 'all')`,
    );
  }
  return [...new Set(names)] as AttackName[];
}

const BUDGET =
  /^\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?)\s*(?:\/\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?\s*$/i;

/**
 * A perturbation budget or step size as a number or a fraction such as 77/255 (the way budgets are
 * quoted in the literature): `rir attack --eps`, a probe's eps and stepSize, a training job's eps.
 * Throws naming `name`.
 */
export function parseBudget(text: string, name: string): number {
  const match = BUDGET.exec(text);
  if (!match) throw new Error(`${name} must be a number or a fraction like 8/255 (got '${text}')`);
  const value = match[2] === undefined ? Number(match[1]) : Number(match[1]) / Number(match[2]);
  if (!Number.isFinite(value)) throw new Error(`${name} must be finite (got '${text}')`);
  return value;
}
