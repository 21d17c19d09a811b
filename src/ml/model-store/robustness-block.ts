/**
 * The `robustness` block of a model version's manifest: the natural and adversarial figures of the
 * version, each with its n and 95% interval, and how they were measured (attack budget, suite, data,
 * date, command). Written by `rir attack --write-manifest`, `rir model annotate` and training jobs;
 * checked whenever a manifest is read or registered, so a malformed block is refused with a message
 * that names the field. Units: percent (0..100) for R@1 and MAP@R, points (0..100) for ERS.
 */
import { ATTACK_NAMES, type AttackName } from '../attacks/definitions';

/** A figure with its number of queries and 95% interval, in percent (R@1, MAP@R) or points (ERS). */
export interface ManifestEstimate {
  value: number;
  low: number;
  high: number;
  n: number;
  method: 'wilson' | 'bootstrap';
}

/** The R@1 figures whose minimum is the worst-case adversarial R@1. */
export const WORST_OF_FIGURES = ['ES:R', 'LTM', 'GTM'] as const;
export type WorstOfFigure = (typeof WORST_OF_FIGURES)[number];

/**
 * 'full suite': all nine attacks, both strength checks, at least 1,000 queries. Anything less (fewer
 * attacks, no strength checks, fewer queries, a training job's bounded suite) is a 'quick suite'.
 */
export const ROBUSTNESS_BUDGETS = ['full suite', 'quick suite'] as const;
export type RobustnessBudget = (typeof ROBUSTNESS_BUDGETS)[number];

/** Queries a full suite attacks at least (README: budgets from `medium` up attack 1,000). */
export const FULL_SUITE_MIN_QUERIES = 1000;

export interface RobustnessBlock {
  /** Natural figures of the attacked queries against the clean gallery. */
  natural: { recallAt1: ManifestEstimate; mapAtR?: ManifestEstimate };
  /**
   * R@1 of attacked queries against the clean gallery (ES:R, LTM, GTM), their minimum and ERS; a
   * figure is null where its attack did not run (ERS needs all nine). null: nothing was attacked
   * (`note` says why).
   */
  adversarial: {
    esR: ManifestEstimate | null;
    ltm: ManifestEstimate | null;
    gtm: ManifestEstimate | null;
    /** The lowest of ES:R, LTM and GTM, with which one it is; null unless all three ran. */
    worstRecallAt1: (ManifestEstimate & { figure: WorstOfFigure }) | null;
    ers: ManifestEstimate | null;
  } | null;
  /** The R@1 of a random ranking of the same gallery for these queries (percent). */
  chance: { recallAt1: number };
  attack: {
    eps: number;
    alpha: number;
    steps: number;
    restarts: number;
    attacks: AttackName[];
    sampleSize: number;
    gallerySize: number;
    seed: number;
    /** Whether the strength checks ran (twice the steps + a restart; momentum PGD). */
    strengthChecks: boolean;
  };
  budget: RobustnessBudget;
  /** The evaluation data (a data set spec such as `mnist`, or a training job's held-out classes). */
  data: string;
  /** When the figures were measured (ISO 8601). */
  date: string;
  /** The command (or job) that measured them. */
  command: string;
  /** The weights they were measured on: a block whose hash differs from the manifest's is refused. */
  weightsSha256: string;
  /** The report's sanity warnings (attack too weak, gradients masked, ...). */
  warnings?: string[];
  /** Why `adversarial` is null. */
  note?: string;
}

/** A malformed block: `problems` are "robustness.<path> must ... (got ...)" lines. */
export class RobustnessBlockError extends Error {
  constructor(
    readonly problems: string[],
    where?: string,
  ) {
    super(`${where ? `${where}: ` : ''}malformed robustness block: ${problems.join('; ')}`);
    this.name = 'RobustnessBlockError';
  }
}

const got = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * ERS is on 0..100 (100 ideal) for figures in their usual ranges; its formula allows up to 130 (rank
 * figures at 100, TMA at -1), so that is the bound checked.
 */
const ERS_MAX = 130;

/** Rounding in a report may put a bound a hair beyond the value. */
const TOLERANCE = 1e-6;

class Checker {
  readonly problems: string[] = [];

  fail(path: string, rule: string, value: unknown): void {
    this.problems.push(`${path} ${rule} (got ${got(value)})`);
  }

  record(path: string, value: unknown): value is Record<string, unknown> {
    if (isRecord(value)) return true;
    this.fail(path, 'must be an object', value);
    return false;
  }

  number(path: string, value: unknown, min: number, max: number, integer = false): void {
    if (
      !isFiniteNumber(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    )
      this.fail(
        path,
        `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max === Infinity ? 'inf' : max}]`,
        value,
      );
  }

  text(path: string, value: unknown): void {
    if (typeof value !== 'string' || value.trim() === '')
      this.fail(path, 'must be a non-empty string', value);
  }

  estimate(path: string, value: unknown, max = 100): void {
    if (!this.record(path, value)) return;
    const before = this.problems.length;
    for (const key of ['value', 'low', 'high'] as const)
      this.number(`${path}.${key}`, value[key], 0, max);
    this.number(`${path}.n`, value.n, 1, Infinity, true);
    if (value.method !== 'wilson' && value.method !== 'bootstrap')
      this.fail(`${path}.method`, "must be 'wilson' or 'bootstrap'", value.method);
    if (this.problems.length > before) return;
    const { value: v, low, high } = value as unknown as ManifestEstimate;
    if (low > v + TOLERANCE || high < v - TOLERANCE)
      this.fail(path, 'must have low <= value <= high', { value: v, low, high });
  }

  nullableEstimate(path: string, value: unknown, max = 100): void {
    if (value !== null) this.estimate(path, value, max);
  }
}

/**
 * Checks a manifest's `robustness` value and returns it typed; throws RobustnessBlockError listing
 * every problem. `weightsSha256`: the manifest's own hash, which the block's must equal.
 */
export function validateRobustnessBlock(
  value: unknown,
  weightsSha256?: string,
  where?: string,
): RobustnessBlock {
  const c = new Checker();
  const root = 'robustness';
  if (!c.record(root, value)) throw new RobustnessBlockError(c.problems, where);
  if (c.record(`${root}.natural`, value.natural)) {
    c.estimate(`${root}.natural.recallAt1`, value.natural.recallAt1);
    if (value.natural.mapAtR !== undefined)
      c.estimate(`${root}.natural.mapAtR`, value.natural.mapAtR);
  }
  const adversarial = value.adversarial;
  if (adversarial !== null && c.record(`${root}.adversarial`, adversarial)) {
    for (const key of ['esR', 'ltm', 'gtm'] as const)
      c.nullableEstimate(`${root}.adversarial.${key}`, adversarial[key]);
    c.nullableEstimate(`${root}.adversarial.ers`, adversarial.ers, ERS_MAX);
    const worst = adversarial.worstRecallAt1;
    c.nullableEstimate(`${root}.adversarial.worstRecallAt1`, worst);
    if (isRecord(worst) && !(WORST_OF_FIGURES as readonly unknown[]).includes(worst.figure))
      c.fail(
        `${root}.adversarial.worstRecallAt1.figure`,
        `must be one of ${WORST_OF_FIGURES.join(', ')}`,
        worst.figure,
      );
  }
  if (c.record(`${root}.chance`, value.chance))
    c.number(`${root}.chance.recallAt1`, value.chance.recallAt1, 0, 100);
  const attack = value.attack;
  if (c.record(`${root}.attack`, attack)) {
    c.number(`${root}.attack.eps`, attack.eps, 0, 1);
    c.number(`${root}.attack.alpha`, attack.alpha, 0, 1);
    for (const key of ['steps', 'restarts', 'seed'] as const)
      c.number(`${root}.attack.${key}`, attack[key], 0, Infinity, true);
    for (const key of ['sampleSize', 'gallerySize'] as const)
      c.number(`${root}.attack.${key}`, attack[key], 1, Infinity, true);
    if (
      !Array.isArray(attack.attacks) ||
      !attack.attacks.every((name) => (ATTACK_NAMES as readonly unknown[]).includes(name))
    )
      c.fail(
        `${root}.attack.attacks`,
        `must be a list of ${ATTACK_NAMES.join(', ')}`,
        attack.attacks,
      );
    if (typeof attack.strengthChecks !== 'boolean')
      c.fail(`${root}.attack.strengthChecks`, 'must be true or false', attack.strengthChecks);
  }
  if (!(ROBUSTNESS_BUDGETS as readonly unknown[]).includes(value.budget))
    c.fail(`${root}.budget`, `must be '${ROBUSTNESS_BUDGETS.join("' or '")}'`, value.budget);
  for (const key of ['data', 'command'] as const) c.text(`${root}.${key}`, value[key]);
  if (typeof value.date !== 'string' || Number.isNaN(Date.parse(value.date)))
    c.fail(`${root}.date`, 'must be an ISO 8601 date', value.date);
  if (typeof value.weightsSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(value.weightsSha256))
    c.fail(`${root}.weightsSha256`, 'must be a sha256 in hex', value.weightsSha256);
  else if (weightsSha256 !== undefined && value.weightsSha256 !== weightsSha256)
    c.fail(
      `${root}.weightsSha256`,
      `must be the manifest's weightsSha256 ${weightsSha256} (the figures were measured on other weights)`,
      value.weightsSha256,
    );
  if (
    value.warnings !== undefined &&
    (!Array.isArray(value.warnings) || !value.warnings.every((w) => typeof w === 'string'))
  )
    c.fail(`${root}.warnings`, 'must be a list of strings', value.warnings);
  if (value.note !== undefined) c.text(`${root}.note`, value.note);
  if (c.problems.length > 0) throw new RobustnessBlockError(c.problems, where);
  return value as unknown as RobustnessBlock;
}

/** The lowest of the three R@1 figures under attack, or null unless all three were measured. */
export function worstRecallAt1(
  figures: Record<WorstOfFigure, ManifestEstimate | null>,
): (ManifestEstimate & { figure: WorstOfFigure }) | null {
  let worst: (ManifestEstimate & { figure: WorstOfFigure }) | null = null;
  for (const figure of WORST_OF_FIGURES) {
    const estimate = figures[figure];
    if (!estimate) return null;
    if (!worst || estimate.value < worst.value) worst = { ...estimate, figure };
  }
  return worst;
}
