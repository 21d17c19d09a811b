// Models (admin): versions side by side (natural and adversarial R@1), deploy with confirmation.
import { api } from './api.js';
import { formatEstimate } from './probe-report.js';
import {
  confirmDialog,
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

/**
 * The R@1 figures a trained model's manifest carries, in percent: natural R@1 on the held-out classes
 * (metrics.recallAt1, a fraction) and R@1 of ES-attacked held-out queries at the training eps
 * (metrics.robustness.recallAt1UnderAttack, already in percent).
 */
export function recallFigures(manifest = {}) {
  const metrics = manifest.metrics || {};
  const robustness = metrics.robustness || {};
  const natural = finite(metrics.recallAt1);
  return {
    natural: natural === undefined ? undefined : natural * 100,
    adversarial: finite(robustness.recallAt1UnderAttack),
    eps: finite(robustness.eps),
    /** "31.5% [22.4, 41.9], n = 100" and the chance level, where the job recorded them. */
    adversarialEstimate: formatEstimate(robustness.estimates?.recallAt1UnderAttack, { unit: '%' }),
    chance: finite(robustness.chanceRecallAt1),
  };
}

function describeModel(manifest = {}) {
  const spec = manifest.spec || {};
  return [
    manifest.backbone ?? spec.backbone,
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

  function row(model) {
    const figures = recallFigures(model.manifest);
    return h(
      'tr',
      {},
      h(
        'th',
        { scope: 'row' },
        nameOf(model),
        nameOf(model) !== model.id ? h('div', { class: 'hint' }, `id ${model.id}`) : null,
        h('div', { class: 'hint' }, describeModel(model.manifest)),
      ),
      h('td', {}, h('span', { class: `badge ${model.status}` }, model.status)),
      h('td', { class: 'num' }, formatPercent(figures.natural)),
      h(
        'td',
        { class: 'num' },
        formatPercent(figures.adversarial),
        figures.adversarialEstimate
          ? h(
              'div',
              { class: 'hint' },
              figures.adversarialEstimate.slice(figures.adversarialEstimate.indexOf(' [') + 1) +
                (figures.chance !== undefined ? `; chance ${figures.chance.toFixed(1)}%` : ''),
            )
          : null,
        figures.eps !== undefined
          ? h(
              'div',
              { class: 'hint' },
              `ES at eps ${Number((figures.eps * 255).toPrecision(4))}/255`,
            )
          : null,
      ),
      h('td', { class: 'num' }, String(model.embeddingDim)),
      h('td', {}, formatDate(model.createdAt)),
      deployCell(model),
    );
  }

  async function refresh() {
    const models = await api('/v1/models');
    fill(
      body,
      models.length
        ? models.map(row)
        : h('tr', {}, h('td', { colspan: '7', class: 'empty' }, 'No models registered.')),
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
      'Model versions side by side. Adversarial R@1 is recall@1 of attacked queries (ES) at the eps shown.',
    ),
    errors,
    status,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Model versions'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Model'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col', class: 'num' }, 'Natural R@1'),
            h('th', { scope: 'col', class: 'num' }, 'Adversarial R@1'),
            h('th', { scope: 'col', class: 'num' }, 'Dim'),
            h('th', { scope: 'col' }, 'Registered'),
            h('th', { scope: 'col' }, 'Deploy'),
          ),
        ),
        body,
      ),
    ),
  );
  watch();
  return () => stopPolling?.();
}
