// Models (admin): versions side by side (natural and adversarial R@1, ERS, with their intervals),
// deploy with confirmation.
import { api, apiItems } from './api.js';
import { formatEstimate, PERCENT, POINTS } from './probe-report.js';
import {
  confirmDialog,
  dataTable,
  fill,
  formatDate,
  formatPercent,
  h,
  messageBox,
  poll,
  statusLine,
} from './ui.js';

export const API_PATH = '/v1/models';

/** What people read: the model's name (older servers send none: the id). */
const nameOf = (model) => model.name || model.id;

const finite = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

export const NOT_MEASURED = 'not measured';

/** A budget as it is quoted: 0.30196 -> "77/255", 0.03 -> "0.03". */
export function formatEps(eps) {
  const in255 = eps * 255;
  return Math.abs(in255 - Math.round(in255)) < 1e-6
    ? `${Math.round(in255)}/255`
    : String(Number(eps.toPrecision(4)));
}

/**
 * What the Models page shows of a model, each figure as "20.7% [19.6, 21.9], n = 1,000" or
 * "not measured": from the manifest's robustness block (model.robustness: `rir attack --write-manifest`,
 * `rir model annotate`, training jobs' quick suite), else from what older training jobs left in
 * manifest.metrics (natural R@1 as a fraction without interval, R@1 under the ES attack).
 */
export function modelFigures(model) {
  const block = model.robustness;
  if (block) {
    const adversarial = block.adversarial || {};
    const percent = (estimate) => formatEstimate(estimate, PERCENT) ?? NOT_MEASURED;
    const eps = finite(block.attack?.eps);
    const atEps = eps !== undefined ? `at eps ${formatEps(eps)}` : null;
    const worst = adversarial.worstRecallAt1;
    return {
      natural: percent(block.natural?.recallAt1),
      naturalHint:
        finite(block.chance?.recallAt1) !== undefined
          ? `chance ${formatPercent(block.chance.recallAt1)}`
          : null,
      esR: percent(adversarial.esR),
      esRHint: adversarial.esR ? atEps : (block.note ?? null),
      worst: percent(worst),
      worstHint: worst ? `${worst.figure}${atEps ? ` ${atEps}` : ''}` : null,
      ers: formatEstimate(adversarial.ers, POINTS) ?? NOT_MEASURED,
      ersHint: adversarial.ers ? 'points, 100 ideal' : null,
      budget: block.budget,
      source: [
        eps !== undefined && block.adversarial ? `eps ${formatEps(eps)}` : null,
        block.data,
        block.date ? formatDate(block.date) : null,
      ]
        .filter(Boolean)
        .join(' · '),
      warnings: Array.isArray(block.warnings) ? block.warnings : [],
    };
  }
  // Manifests written before the robustness block: the training job's figures.
  const metrics = model.manifest?.metrics || {};
  const robustness = metrics.robustness || {};
  const natural = finite(metrics.recallAt1);
  const es = robustness.estimates?.recallAt1UnderAttack;
  const eps = finite(robustness.eps);
  return {
    natural: natural === undefined ? NOT_MEASURED : formatPercent(natural),
    naturalHint: natural === undefined ? null : 'no interval (older manifest)',
    esR: formatEstimate(es, PERCENT) ?? NOT_MEASURED,
    esRHint:
      es && eps !== undefined
        ? `at eps ${formatEps(eps)}` +
          (finite(robustness.chanceRecallAt1) !== undefined
            ? `; chance ${formatPercent(robustness.chanceRecallAt1)}`
            : '')
        : null,
    worst: NOT_MEASURED,
    worstHint: null,
    ers: NOT_MEASURED,
    ersHint: null,
    budget: null,
    source: es ? "the training job's ES figure (older manifest)" : null,
    warnings: [],
  };
}

function describeModel(manifest = {}, embeddingDim) {
  const spec = manifest.spec || {};
  return [
    manifest.backbone ?? spec.backbone,
    typeof embeddingDim === 'number' ? `${embeddingDim}-d` : undefined,
    manifest.loss?.name,
    manifest.defense?.name && `defence ${manifest.defense.name}`,
    manifest.dataset?.dataset,
  ]
    .filter((part) => typeof part === 'string')
    .join(' · ');
}

export function render(main) {
  const errors = messageBox();
  const status = statusLine();
  const body = h('tbody');
  let stopPolling = null;
  /** The model a click on Deploy asked for, watched until it serves or fails. */
  let awaited = null;

  function deployCell(model) {
    if (model.status === 'deploying') {
      const p = model.deployProgress || {};
      const fraction = p.total ? p.embedded / p.total : 0;
      return h(
        'td',
        { class: 'cell-progress' },
        h('progress', {
          max: '1',
          value: String(fraction),
          'aria-label': `Reindex progress of ${nameOf(model)}`,
        }),
        h('div', { class: 'hint' }, `re-embedding ${p.embedded ?? 0}/${p.total ?? '?'}`),
      );
    }
    if (model.active) return h('td', {}, h('span', { class: 'badge deployed' }, 'serving'));
    return h(
      'td',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          'aria-label': `Deploy model ${nameOf(model)}`,
          onclick: async () => {
            const ok = await confirmDialog(
              `Deploy ${nameOf(model)}? The gallery is re-embedded with it in the background; searches keep using the current model until the swap.`,
              'Deploy',
            );
            if (!ok) return;
            try {
              await api(`/v1/models/${encodeURIComponent(model.id)}/deploy`, { method: 'POST' });
              status.textContent = `Deploying ${nameOf(model)}…`;
              watch(model.id);
            } catch (error) {
              errors.show(error);
            }
          },
        },
        'Deploy',
      ),
      model.deployError
        ? h('div', { class: 'hint' }, `last deploy failed: ${model.deployError}`)
        : null,
    );
  }

  /**
   * A figure cell: "20.7% [19.6, 21.9], n = 1,000" with the interval and n on a line of their own
   * (the text reads the same), and a hint below it.
   */
  const figureCell = (text, hint) => {
    const at = text.indexOf(' [');
    return h(
      'td',
      { class: `num model-figure${text === NOT_MEASURED ? ' muted' : ''}` },
      at > 0 ? [text.slice(0, at), h('span', { class: 'interval' }, text.slice(at))] : text,
      hint ? h('div', { class: 'hint' }, hint) : null,
    );
  };

  function row(model) {
    const figures = modelFigures(model);
    return h(
      'tr',
      {},
      h(
        'th',
        { scope: 'row' },
        nameOf(model),
        nameOf(model) !== model.id ? h('div', { class: 'hint' }, `id ${model.id}`) : null,
        h('div', { class: 'hint' }, describeModel(model.manifest, model.embeddingDim)),
        figures.budget || figures.source
          ? h(
              'div',
              { class: 'hint' },
              figures.budget
                ? h(
                    'span',
                    { class: `badge suite${figures.budget === 'quick suite' ? ' quick' : ''}` },
                    figures.budget,
                  )
                : null,
              figures.budget && figures.source ? ' ' : null,
              figures.source,
            )
          : null,
        ...figures.warnings.map((warning) =>
          h('div', { class: 'hint warning' }, `warning: ${warning}`),
        ),
      ),
      h('td', {}, h('span', { class: `badge ${model.status}` }, model.status)),
      figureCell(figures.natural, figures.naturalHint),
      figureCell(figures.esR, figures.esRHint),
      figureCell(figures.worst, figures.worstHint),
      figureCell(figures.ers, figures.ersHint),
      h('td', {}, formatDate(model.createdAt)),
      deployCell(model),
    );
  }

  async function refresh() {
    const models = await apiItems('/v1/models');
    fill(
      body,
      models.length
        ? models.map(row)
        : h('tr', {}, h('td', { colspan: '8', class: 'empty' }, 'No models registered.')),
    );
    const deploying = models.find((model) => model.status === 'deploying');
    const serving = models.find((model) => model.active);
    // After a click on Deploy, keep watching until that model serves or its deploy failed, even if
    // a refresh lands before the server has recorded the deploy.
    const target = awaited && models.find((model) => model.id === awaited);
    const waiting = Boolean(target && !target.active && target.status !== 'failed');
    if (!waiting) awaited = null;
    if (!deploying && !waiting)
      status.textContent = serving
        ? `Serving model: ${nameOf(serving)}.`
        : 'No model is deployed yet.';
    return Boolean(deploying) || waiting;
  }

  function watch(modelId = null) {
    awaited = modelId;
    stopPolling?.();
    stopPolling = poll(async () => {
      try {
        return await refresh();
      } catch (error) {
        errors.show(error);
        return false;
      }
    }, 1000);
  }

  fill(
    main,
    h('h1', {}, 'Models'),
    h(
      'p',
      { class: 'lead' },
      'Model versions side by side. Each figure comes with its 95% interval and number of queries n. ' +
        'Adversarial R@1 is the recall@1 of attacked queries against the clean gallery at the eps shown: ' +
        'ES:R under the embedding-shifting attack, and the worst of ES:R, LTM and GTM. ERS folds all nine ' +
        'attacks into one score (100 ideal). A quick suite (training jobs) attacks fewer queries with fewer ' +
        'steps than the full suite, so its intervals are wider and its attacks weaker.',
    ),
    errors,
    status,
    dataTable(
      'Model versions',
      [
        'Model',
        'Status',
        ['Natural R@1', 'num'],
        ['Adversarial R@1 (ES:R)', 'num'],
        ['Worst adversarial R@1', 'num'],
        ['ERS', 'num'],
        'Registered',
        'Deploy',
      ],
      body,
      { class: 'models' },
    ),
  );
  watch();
  return () => stopPolling?.();
}
