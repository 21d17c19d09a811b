// Training (admin): start a robust retraining job, watch its progress live, cancel it.
import { api } from './api.js';
import {
  cancelCell,
  jobIdCell,
  jobStatusCell,
  pollShowingErrors,
  progressCell,
  refreshJobTable,
} from './jobs.js';
import {
  confirmDialog,
  dataTable,
  field,
  fill,
  h,
  messageBox,
  pageHeading,
  statusLine,
  submitHandler,
} from './ui.js';

export const API_PATH = '/v1/training-jobs';

/** The data sets a request can name without a path on the server (`iconify[:OPTIONS]` -> `iconify`). */
function datasetNames(forms) {
  return forms.map((form) => form.replace('[:OPTIONS]', '')).filter((form) => !form.includes(':'));
}

function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map((option) => h('option', { value: option, selected: option === value }, option)),
  );
}

export function render(main, { meta }) {
  const errors = messageBox();
  const status = statusLine();
  const jobsBody = h('tbody');
  let stopPolling = null;
  /** Jobs asked to stop that are still running (they stop at their next step). */
  const cancelling = new Set();

  const dataset = h('input', {
    type: 'text',
    name: 'dataset',
    value: 'mnist',
    list: 'dataset-names',
    required: true,
  });
  // The choices as the API names them (GET /v1/meta).
  const backbone = select('backbone', meta.backbones, 'small-cnn');
  const loss = select('loss', meta.losses, 'triplet');
  const defense = select('defense', meta.defenses, 'none');
  const epochs = h('input', {
    type: 'number',
    name: 'epochs',
    min: '1',
    max: '1000',
    value: '2',
    required: true,
  });
  const batchSize = h('input', {
    type: 'number',
    name: 'batchSize',
    min: '2',
    max: '4096',
    value: '64',
    required: true,
  });
  const eps = h('input', {
    type: 'text',
    name: 'eps',
    value: '8/255',
    inputmode: 'decimal',
    required: true,
  });
  const perClass = h('input', {
    type: 'number',
    name: 'perClass',
    min: '2',
    max: '1024',
    placeholder: 'auto',
  });
  const maxTrain = h('input', {
    type: 'number',
    name: 'maxTrainImages',
    min: '2',
    placeholder: 'all',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Start training');

  const start = submitHandler(submit, errors, async () => {
    const body = {
      dataset: dataset.value.trim(),
      backbone: backbone.value,
      loss: loss.value,
      defense: defense.value,
      epochs: Number(epochs.value),
      batchSize: Number(batchSize.value),
      // As typed ("8/255", "0.03"): the API reads and checks budgets.
      defenseParams: { eps: eps.value.trim() },
    };
    if (perClass.value) body.perClass = Number(perClass.value);
    if (maxTrain.value) body.maxTrainImages = Number(maxTrain.value);
    const job = await api('/v1/training-jobs', { method: 'POST', json: body });
    status.textContent = `Started training job ${job.id}.`;
    watch();
  });

  function row(job) {
    const spec = job.spec || {};
    const epsValue = spec.defenseOptions?.eps;
    const config = [
      spec.datasetName ?? spec.dataset,
      spec.backbone,
      spec.loss,
      spec.defense && `defence ${spec.defense}`,
      spec.epochs && `${spec.epochs} epoch${spec.epochs === 1 ? '' : 's'}`,
      typeof epsValue === 'number' &&
        spec.defense !== 'none' &&
        `eps ${Number((epsValue * 255).toPrecision(4))}/255`,
    ]
      .filter(Boolean)
      .join(' · ');
    const modelId = job.modelId;
    return h(
      'tr',
      {},
      jobIdCell(job),
      h('td', {}, config || '–'),
      jobStatusCell(job),
      progressCell(job),
      h('td', {}, modelId ? h('a', { href: '#/models' }, modelId) : '–'),
      cancelCell(job, {
        label: `Cancel training job ${job.id}`,
        disabled: cancelling.has(job.id),
        text: cancelling.has(job.id) ? 'Cancelling…' : 'Cancel',
        onclick: async () => {
          if (
            !(await confirmDialog(
              'Cancel this training job? What it trained so far is kept.',
              'Cancel job',
            ))
          )
            return;
          try {
            await api(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST' });
            cancelling.add(job.id);
            status.textContent = `Cancel requested for job ${job.id}.`;
            watch();
          } catch (error) {
            errors.show(error);
          }
        },
      }),
    );
  }

  const refresh = () =>
    refreshJobTable(jobsBody, '/v1/training-jobs', row, {
      columns: 6,
      empty: 'No training jobs yet.',
    });

  function watch() {
    stopPolling?.();
    stopPolling = pollShowingErrors(refresh, errors, 1000);
  }

  fill(
    main,
    pageHeading(
      'Training',
      'Retrain the embedding model, optionally with an adversarial defence. A finished job registers a model version on the Models page.',
    ),
    h(
      'form',
      { class: 'card', onsubmit: start },
      h(
        'datalist',
        { id: 'dataset-names' },
        datasetNames(meta.datasets).map((name) => h('option', { value: name })),
      ),
      h(
        'div',
        { class: 'row' },
        field(
          'Data set',
          dataset,
          'mnist, gallery (its labelled images), or folder:PATH on the server',
        ),
        field('Backbone', backbone),
        field('Loss', loss),
        field('Defence', defense),
      ),
      h(
        'div',
        { class: 'row' },
        field('Epochs', epochs),
        field('Batch size', batchSize),
        field(
          'Images per class (m)',
          perClass,
          'Per batch; the batch size must be a multiple of it',
        ),
        field(
          'eps (L∞ budget)',
          eps,
          'Used by the defence; a number in [0, 1] or a fraction like 8/255',
        ),
        field('Max training images', maxTrain, 'Optional: a quick run on fewer images'),
      ),
      submit,
    ),
    errors,
    status,
    h('h2', {}, 'Jobs'),
    dataTable(
      'Training jobs, newest first',
      ['Job', 'Configuration', 'Status', 'Progress', 'Model', ''],
      jobsBody,
    ),
  );
  watch();
  return () => stopPolling?.();
}
