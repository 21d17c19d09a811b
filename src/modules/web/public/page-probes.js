// Probes (security): start an attack probe against a model; read its report (#/probes/<id>).
import { api } from './api.js';
import {
  cancelCell,
  jobIdCell,
  jobStatusCell,
  pollShowingErrors,
  progressCell,
  refreshJobTable,
} from './jobs.js';
import { eps255, renderReport } from './probe-report.js';
import {
  dataTable,
  field,
  fill,
  formatPercent,
  formatPoints,
  h,
  messageBox,
  pageHeading,
  statusLine,
  submitHandler,
} from './ui.js';

export const API_PATH = '/v1/probes';

/** How the probe sets the API names (GET /v1/meta) are offered. */
const PROBE_SET_TITLES = {
  'dataset:mnist': 'MNIST (held-out digits)',
  gallery: 'Labelled gallery',
};
export function render(main, context) {
  return context.params[0] ? renderReport(main, context.params[0]) : renderList(main, context);
}

function renderList(main, { meta, navigate }) {
  const errors = messageBox();
  const status = statusLine();
  const body = h('tbody');
  let stopPolling = null;

  const model = h('input', {
    type: 'text',
    name: 'model',
    placeholder: 'the deployed model',
    maxlength: '128',
  });
  const attackBoxes = meta.attacks.map((name) =>
    h('input', { type: 'checkbox', name: 'attacks', value: name, checked: name === 'ES' }),
  );
  const eps = h('input', {
    type: 'text',
    name: 'eps',
    value: '2/255, 4/255, 8/255',
    required: true,
  });
  const steps = h('input', {
    type: 'number',
    name: 'steps',
    min: '1',
    max: '1000',
    value: '8',
    required: true,
  });
  const stepSize = h('input', { type: 'text', name: 'stepSize', value: '1/255', required: true });
  const restarts = h('input', {
    type: 'number',
    name: 'restarts',
    min: '1',
    max: '10',
    value: '1',
    required: true,
  });
  const sampleSize = h('input', {
    type: 'number',
    name: 'sampleSize',
    min: '1',
    max: '2000',
    value: '50',
    required: true,
  });
  const probeSet = h(
    'select',
    { name: 'probeSet' },
    meta.probeSets.map((value) => h('option', { value }, PROBE_SET_TITLES[value] ?? value)),
  );
  const seed = h('input', { type: 'number', name: 'seed', min: '0', value: '0' });
  const gallerySize = h('input', {
    type: 'number',
    name: 'gallerySize',
    min: '2',
    max: '10000',
    value: '1000',
  });
  const examples = h('input', {
    type: 'number',
    name: 'examples',
    min: '0',
    max: '16',
    value: '4',
  });
  const randomStart = h('input', { type: 'checkbox', name: 'randomStart' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start probe');

  const start = submitHandler(submit, errors, async () => {
    const attacks = attackBoxes.filter((box) => box.checked).map((box) => box.value);
    if (!attacks.length) return errors.show('Choose at least one attack.');
    // Budgets as typed ("8/255", "0.03"): the API reads and checks them.
    const epsList = eps.value.split(',').map((text) => text.trim());
    const body = {
      attacks,
      eps: epsList.length === 1 ? epsList[0] : epsList,
      stepSize: stepSize.value.trim(),
      steps: Number(steps.value),
      restarts: Number(restarts.value),
      randomStart: randomStart.checked,
      sampleSize: Number(sampleSize.value),
      probeSet: probeSet.value,
      seed: Number(seed.value || 0),
      gallerySize: Number(gallerySize.value),
      examples: Number(examples.value),
    };
    if (model.value.trim()) body.model = model.value.trim();
    const probe = await api('/v1/probes', { method: 'POST', json: body });
    navigate(`#/probes/${probe.id}`);
  });

  function row(probe) {
    const c = probe.config || {};
    const summary = probe.summary;
    const attacks = Array.isArray(c.attacks)
      ? c.attacks.length === meta.attacks.length
        ? 'all attacks'
        : c.attacks.join(', ')
      : '';
    const description = [
      c.model,
      attacks,
      Array.isArray(c.eps) && `eps ${c.eps.map(eps255).join(', ')}`,
      c.probeSet,
    ]
      .filter(Boolean)
      .join(' · ');
    return h(
      'tr',
      {},
      jobIdCell(probe, {
        href: `#/probes/${probe.id}`,
        'aria-label': `Report of probe ${probe.id}`,
      }),
      h('td', {}, description || '–'),
      jobStatusCell(
        probe,
        summary?.warnings
          ? `${summary.warnings} sanity warning${summary.warnings === 1 ? '' : 's'}`
          : null,
      ),
      progressCell(probe),
      h('td', { class: 'num' }, formatPercent(summary?.adversarialRecallAt1 ?? undefined)),
      h('td', { class: 'num' }, formatPoints(summary?.ers)),
      cancelCell(probe, {
        label: `Cancel probe ${probe.id}`,
        onclick: async () => {
          try {
            await api(`/v1/probes/${probe.id}/cancel`, { method: 'POST' });
            status.textContent = `Cancel requested for probe ${probe.id}.`;
          } catch (error) {
            errors.show(error);
          }
        },
      }),
    );
  }

  const refresh = () =>
    refreshJobTable(body, '/v1/probes', row, { columns: 7, empty: 'No probes yet.' });

  fill(
    main,
    pageHeading(
      'Probes',
      'Attack a model with the retrieval attack suite and read how well it holds up. Probes never change the gallery or the deployed model.',
    ),
    h(
      'form',
      { class: 'card', onsubmit: start },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Attacks'),
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () => {
              const all = attackBoxes.every((box) => box.checked);
              for (const box of attackBoxes) box.checked = !all;
            },
          },
          'All / none',
        ),
        h(
          'div',
          { class: 'checks' },
          attackBoxes.map((box) => h('label', {}, box, box.value)),
        ),
      ),
      h(
        'div',
        { class: 'row' },
        field('Model', model, 'Empty: the deployed model'),
        field('Probe set', probeSet),
        field('Sample size', sampleSize, 'Queries attacked'),
        field('Gallery size', gallerySize, 'Clean images the attacks rank against'),
        field('Worst examples kept', examples),
      ),
      h(
        'div',
        { class: 'row' },
        field(
          'eps (one or a list)',
          eps,
          'L∞ budgets, e.g. 2/255, 4/255, 8/255; a list draws the R@1-versus-eps curve',
        ),
        field('Step size', stepSize),
        field('PGD steps', steps),
        field('Restarts', restarts),
        field('Seed', seed),
      ),
      h('p', {}, h('label', {}, randomStart, ' Random start')),
      h('div', {}, submit),
    ),
    errors,
    status,
    h('h2', {}, 'Probes'),
    dataTable(
      'Probes, newest first',
      ['Probe', 'Configuration', 'Status', 'Progress', 'Adv. R@1', 'ERS', ''],
      body,
    ),
  );
  stopPolling = pollShowingErrors(refresh, errors, 1500);
  return () => stopPolling?.();
}
