// The probe report page (#/probes/<id>): sanity checks, summary figures, per-attack table,
// the R@1-versus-eps chart, the CA+ rank distribution and the worst examples.
import { api, session } from './api.js';
import { lineChart, SERIES_COLOURS } from './chart.js';
import { ACTIVE, progressCell } from './jobs.js';
import {
  apiImage,
  dataTable,
  fill,
  formatDate,
  formatDuration,
  formatPercent,
  formatPoints,
  h,
  messageBox,
  poll,
  statusLine,
} from './ui.js';

/**
 * How a figure reads (which way is more robust, its unit, percent or not, its digits), as the API
 * says in GET /v1/meta (docs/METHOD.md §6); a figure it does not know prints as a percent. The API
 * gives percent figures (rates, percentile ranks) as fractions in [0, 1]; they print as percents.
 */
function figureInfo(metric) {
  return session.meta?.figures?.[metric] ?? { moreRobust: '', unit: '', percent: true, digits: 1 };
}

export function formatFigure(metric, value) {
  if (typeof value !== 'number' || Number.isNaN(value)) return '–';
  const { percent, digits } = figureInfo(metric);
  return (percent ? 100 * value : value).toFixed(digits);
}

/** formatEstimate's options for a rate (a fraction, shown as a percent) and for ERS (shown in points). */
export const PERCENT = { scale: 100, unit: '%' };
export const POINTS = { scale: 100 };

const groupThousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

/**
 * A figure with its 95% interval and number of queries, as every report prints it:
 * "20.7% [19.6, 21.9], n = 4,861" (with PERCENT, from { value: 0.207, low: 0.196, ... }). Null when
 * the report has no estimate (written before intervals).
 */
export function formatEstimate(estimate, { digits = 1, unit = '', scale = 1 } = {}) {
  if (!estimate || !isNumber(estimate.value)) return null;
  const fixed = (x) => (scale * x).toFixed(digits);
  const value = `${fixed(estimate.value)}${unit}`;
  const n = isNumber(estimate.n) ? `, n = ${groupThousands(estimate.n)}` : '';
  if (!isNumber(estimate.low) || !isNumber(estimate.high)) return `${value}${n}`;
  return `${value} [${fixed(estimate.low)}, ${fixed(estimate.high)}]${n}`;
}

/** A figure of the suite: its estimate when the report has one, else its bare value. */
export function formatFigureEstimate(metric, value, estimate) {
  const { percent, digits } = figureInfo(metric);
  return (
    formatEstimate(estimate, percent ? { ...PERCENT, digits } : { digits }) ??
    formatFigure(metric, value)
  );
}

/** "ES:R 3.3% [0.6, 16.7], n = 30 is at chance (10.1%): the attack moves the embedding, …" */
export function chanceSentence(metric, estimate) {
  if (!estimate?.verdict || !isNumber(estimate.chance)) return null;
  return (
    `${metric} ${formatFigureEstimate(metric, estimate.value, estimate)} is ${estimate.verdict} ` +
    `(${formatPercent(estimate.chance)}): ${session.meta?.chanceMeaning?.[estimate.verdict] ?? ''}.`
  );
}

export const eps255 = (eps) =>
  typeof eps === 'number' ? `${Number((eps * 255).toPrecision(4))}/255` : '–';

export function renderReport(main, id) {
  const errors = messageBox();
  const status = statusLine();
  const content = h('div', { class: 'report' });
  let stopPolling = null;

  fill(
    main,
    h('p', {}, h('a', { href: '#/probes' }, '← All probes')),
    h('h1', {}, `Probe ${id.slice(0, 8)}`),
    errors,
    status,
    content,
  );

  stopPolling = poll(async () => {
    let probe;
    try {
      probe = await api(`/v1/probes/${encodeURIComponent(id)}`);
    } catch (error) {
      errors.show(error);
      return false;
    }
    const report = probe.report ?? null;
    if (ACTIVE.includes(probe.status) || (!report && probe.status === 'succeeded')) {
      const table = h(
        'table',
        {},
        h('tbody', {}, h('tr', {}, h('th', { scope: 'row' }, probe.status), progressCell(probe))),
      );
      status.textContent = `The probe is ${probe.status}…`;
      fill(content, h('div', { class: 'table-wrap' }, table));
      return true;
    }
    if (!report) {
      status.textContent = '';
      errors.show(`The probe ${probe.status}${probe.error ? `: ${probe.error}` : '.'}`);
      fill(content);
      return false;
    }
    status.textContent = `Finished ${formatDate(report.finishedAt)} in ${formatDuration(report.durationSeconds)}.`;
    fill(content, reportView(id, report));
    return false;
  }, 1000);
  return () => stopPolling?.();
}

function figureCard(name, value, hint) {
  // "20.7% [19.6, 21.9], n = 4,861": the figure large, its interval and n below it, smaller.
  const at = String(value).indexOf(' [');
  const shown =
    at > 0
      ? [String(value).slice(0, at), h('span', { class: 'interval' }, String(value).slice(at))]
      : value;
  return h(
    'div',
    { class: 'figure' },
    h('div', { class: 'value' }, shown),
    h('div', { class: 'name' }, name),
    hint ? h('div', { class: 'hint' }, hint) : null,
  );
}

const chanceHint = (chance) => (isNumber(chance) ? `chance ${formatPercent(chance)}` : null);

export function reportView(id, report) {
  const c = report.config || {};
  const sanity = report.sanity || {};
  const warnings = sanity.warnings || [];
  const estimates = report.estimates || {};
  const chanceSentences = ['ES:R', 'LTM', 'GTM']
    .map((metric) => chanceSentence(metric, estimates.figures?.[metric]))
    .filter(Boolean);
  return [
    h(
      'p',
      { class: 'lead' },
      `Model ${report.model?.id ?? '?'} (weights ${String(report.model?.weightsSha256 ?? '').slice(0, 12)}), probe set ${report.probeSet?.name ?? '?'}: ` +
        `${report.probeSet?.sampleSize ?? '?'} queries of ${report.probeSet?.images ?? '?'} images in ${report.probeSet?.classes ?? '?'} classes; ` +
        `eps ${eps255(report.primaryEps)}, ${c.steps ?? '?'} steps of ${eps255(c.stepSize)}, ${c.restarts ?? '?'} restart(s), seed ${c.seed ?? '?'}.`,
    ),
    h('h2', {}, 'Sanity checks'),
    warnings.length
      ? h(
          'ul',
          { class: 'warnings', 'aria-label': 'Sanity warnings' },
          warnings.map((text) => h('li', { class: 'message warning' }, `Warning: ${text}`)),
        )
      : h(
          'p',
          { class: 'message info' },
          'All sanity checks passed: the figures below can be trusted at this attack strength.',
        ),
    sanityTable(sanity),
    h('h2', {}, 'Summary'),
    h(
      'div',
      { class: 'figures' },
      figureCard(
        'Clean R@1',
        formatEstimate(estimates.naturalRecallAt1, PERCENT) ??
          formatPercent(report.clean?.recallAt1),
        chanceHint(report.chance?.recallAt1),
      ),
      figureCard(
        'Clean MAP@R',
        formatEstimate(estimates.mapAtR, PERCENT) ?? formatPercent(report.clean?.mapAtR),
      ),
      figureCard(
        'Adversarial R@1 (ES)',
        formatEstimate(estimates.figures?.['ES:R'], PERCENT) ??
          formatPercent(report.adversarialRecallAt1),
        [`at eps ${eps255(report.primaryEps)}`, chanceHint(estimates.figures?.['ES:R']?.chance)]
          .filter(Boolean)
          .join('; '),
      ),
      figureCard(
        'ERS',
        formatEstimate(estimates.ers, POINTS) ?? formatPoints(report.ers),
        typeof report.ers === 'number'
          ? 'empirical robustness score, 0–100'
          : 'needs every attack (attacks: all)',
      ),
    ),
    chanceSentences.length
      ? h(
          'ul',
          { class: 'chance', 'aria-label': 'Adversarial R@1 against chance' },
          chanceSentences.map((text) => h('li', {}, text)),
        )
      : null,
    estimates.figures
      ? h(
          'p',
          { class: 'hint' },
          'Intervals: 95%, in the unit of their figure (percent; TMA cosine, ES:D distance; ERS points). ' +
            'Wilson score intervals for rates, a seeded bootstrap over queries (2,000 resamples) for means and ERS. ' +
            'Chance: what a random ranking of the same gallery scores.',
        )
      : null,
    h('h2', {}, 'Per attack'),
    dataTable(
      'Figures per attack, attacked and clean',
      [
        ['Attack'],
        ['Figure'],
        ['Attacked [95% interval], n', 'num'],
        ['Chance', 'num'],
        ['Clean', 'num'],
        ['More robust'],
        ['R@1 under attack', 'num'],
        ['Max |δ|', 'num'],
        ['Objective before → after'],
      ],
      (report.attacks || []).flatMap((attack) =>
        Object.keys(attack.figures || {}).map((metric, i) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, i === 0 ? attack.attack : ''),
            h('td', {}, `${metric} (${figureInfo(metric).unit})`),
            h(
              'td',
              { class: 'num' },
              formatFigureEstimate(metric, attack.figures[metric], attack.estimates?.[metric]),
            ),
            h(
              'td',
              { class: 'num' },
              isNumber(attack.estimates?.[metric]?.chance)
                ? `${formatFigure(metric, attack.estimates[metric].chance)}%`
                : '–',
            ),
            h(
              'td',
              { class: 'num' },
              formatFigureEstimate(
                metric,
                attack.cleanFigures?.[metric],
                attack.cleanEstimates?.[metric],
              ),
            ),
            h('td', {}, figureInfo(metric).moreRobust),
            h(
              'td',
              { class: 'num' },
              i === 0 ? formatPercent(attack.recallAt1UnderAttack ?? undefined) : '',
            ),
            h('td', { class: 'num' }, i === 0 ? eps255(attack.maxPerturbation) : ''),
            h(
              'td',
              {},
              i === 0
                ? `${attack.objectiveBefore?.toFixed?.(4)} → ${attack.objectiveAfter?.toFixed?.(4)}`
                : '',
            ),
          ),
        ),
      ),
    ),
    curveSection(report),
    ranksSection(report.candidateRanks),
    examplesSection(id, report.examples || []),
  ];
}

function sanityTable(sanity) {
  const strength = sanity.strength;
  const rows = [
    [
      'Largest perturbation',
      `${eps255(sanity.maxPerturbation)} (budget ${eps255(sanity.eps)})`,
      sanity.withinEps === false ? 'over budget' : 'within budget',
    ],
    [
      'Zero-gradient share',
      formatPercent(sanity.zeroGradientShare),
      sanity.zeroGradientShare > 0.5 ? 'gradients vanish' : 'ok',
    ],
    [
      'Non-finite gradient share',
      formatPercent(sanity.nonFiniteGradientShare),
      sanity.nonFiniteGradientShare > 0 ? 'NaN/Inf gradients' : 'ok',
    ],
    [
      'Embedding spread',
      typeof sanity.embeddingSpread === 'number' ? sanity.embeddingSpread.toFixed(3) : '–',
      '',
    ],
    strength
      ? [
          'Strength check',
          `R@1 ${formatEstimate(strength.baseEstimate, PERCENT) ?? formatPercent(strength.base)} → ` +
            `${formatEstimate(strength.strongerEstimate, PERCENT) ?? formatPercent(strength.stronger)} with ${strength.steps} steps, ${strength.restarts} restarts`,
          strength.warning ? 'attack too weak' : 'ok',
        ]
      : null,
    sanity.alternative
      ? [
          'Another attack, same budget',
          `R@1 ${formatEstimate(sanity.alternative.base, PERCENT)} → ${formatEstimate(sanity.alternative.alternative, PERCENT)} with ${sanity.alternative.method}`,
          sanity.alternative.warning
            ? 'attack too weak: the other attack beats it by more than its interval'
            : 'ok',
        ]
      : null,
    typeof sanity.monotoneCurve === 'boolean'
      ? [
          'R@1 falls as eps grows',
          sanity.monotoneCurve ? 'yes' : 'no',
          sanity.monotoneCurve ? 'ok' : 'not monotone',
        ]
      : null,
  ].filter(Boolean);
  return dataTable(
    'Sanity figures',
    [['Check'], ['Value'], ['Verdict']],
    rows.map(([name, value, verdict]) =>
      h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, value), h('td', {}, verdict)),
    ),
  );
}

function curveSection(report) {
  const curve = (report.curve || []).filter((point) => typeof point.eps === 'number');
  if (!curve.length) return null;
  const clean = report.clean?.recallAt1;
  const names = ['ES:R', 'LTM', 'GTM'].filter((metric) =>
    curve.some((point) => typeof point.figures?.[metric] === 'number'),
  );
  // The chart's axis is in percent; the API's rates are fractions.
  const withClean = (points) =>
    typeof clean === 'number' ? [{ x: 0, y: 100 * clean }, ...points] : points;
  const series = [
    {
      name: 'R@1 under the strongest attack',
      points: withClean(
        curve
          .filter((p) => typeof p.recallAt1 === 'number')
          .map((p) => ({ x: p.eps * 255, y: 100 * p.recallAt1 })),
      ),
    },
    ...names.map((metric) => ({
      name: metric,
      points: withClean(
        curve
          .filter((p) => typeof p.figures?.[metric] === 'number')
          .map((p) => ({ x: p.eps * 255, y: 100 * p.figures[metric] })),
      ),
    })),
  ]
    .filter((s) => s.points.length)
    // With one R@1 attack its line is the strongest-attack line: draw it once, under the attack's name.
    .filter(
      (s, i, all) =>
        i > 0 || all.length !== 2 || JSON.stringify(s.points) !== JSON.stringify(all[1].points),
    );
  const description = curve
    .map((p) => `eps ${eps255(p.eps)}: R@1 ${formatPercent(p.recallAt1 ?? undefined)}`)
    .join('; ');
  return [
    h('h2', {}, 'R@1 versus eps'),
    lineChart({
      title: 'R@1 under attack versus eps',
      description,
      series,
      xLabel: 'eps (× 1/255)',
      yLabel: 'R@1 %',
    }),
    h(
      'ul',
      { class: 'legend', 'aria-hidden': 'true' },
      series.map((s, i) => {
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = SERIES_COLOURS[i % SERIES_COLOURS.length];
        return h('li', {}, swatch, s.name);
      }),
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Curve as a table'),
      dataTable(
        'R@1 per eps',
        [['eps'], ['R@1 (strongest)', 'num'], ...names.map((n) => [n, 'num']), ['ERS', 'num']],
        curve.map((p) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, eps255(p.eps)),
            h(
              'td',
              { class: 'num' },
              formatEstimate(p.estimates?.recallAt1, PERCENT) ??
                formatPercent(p.recallAt1 ?? undefined),
            ),
            names.map((n) =>
              h(
                'td',
                { class: 'num' },
                formatFigureEstimate(n, p.figures?.[n], p.estimates?.figures?.[n]),
              ),
            ),
            h('td', { class: 'num' }, formatPoints(p.ers)),
          ),
        ),
      ),
    ),
  ];
}

function ranksSection(ranks) {
  if (!ranks?.ranks) return null;
  const q = ranks.ranks.quantiles || {};
  return [
    h('h2', {}, 'How far can a perturbed upload climb? (CA+)'),
    h(
      'p',
      {},
      `${ranks.candidates} candidates${ranks.liveGallery ? ' from the live gallery' : ''}, ${ranks.queriesPerCandidate} random queries each: ` +
        `mean percentile rank ${formatPoints(ranks.ranks.mean)} after the attack (${formatPoints(ranks.cleanMean)} before; 0 is first). ` +
        `Reached the top 1%: ${formatPercent(ranks.ranks.top1PercentShare)}; top 10%: ${formatPercent(ranks.ranks.top10PercentShare)}.`,
    ),
    dataTable(
      'Percentile rank quantiles',
      ['p0', 'p10', 'p25', 'p50', 'p75', 'p90', 'p100'].map((name) => [name, 'num']),
      h(
        'tr',
        {},
        ['p0', 'p10', 'p25', 'p50', 'p75', 'p90', 'p100'].map((name) =>
          h('td', { class: 'num' }, formatPoints(q[name])),
        ),
      ),
    ),
  ];
}

function examplesSection(id, examples) {
  if (!examples.length) return null;
  return [
    h('h2', {}, 'Worst examples'),
    h(
      'p',
      { class: 'hint' },
      'Each picture: the original, the adversarial image, and the perturbation amplified.',
    ),
    h(
      'ul',
      { class: 'examples' },
      examples.map((example) =>
        h(
          'li',
          {},
          h(
            'figure',
            {},
            apiImage(
              `/v1/probes/${encodeURIComponent(id)}/examples/${example.n}.png`,
              `Example ${example.n} (${example.attack}): original, adversarial and amplified perturbation of a "${example.label}" image`,
            ),
            h(
              'figcaption',
              {},
              `${example.attack} on a "${example.label}" query: top result "${example.cleanTop?.label}" → "${example.attackedTop?.label}"` +
                `${example.flipped ? ' (flipped)' : ''}; embedding shift ${example.embeddingShift?.toFixed(3)}, max |δ| ${eps255(example.maxPerturbation)}.`,
            ),
          ),
        ),
      ),
    ),
  ];
}
