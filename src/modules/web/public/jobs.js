// Shared by the job pages (training, probes): the job table, its polling, progress and cancel cells.
import { api } from './api.js';
import { fill, formatDate, formatDuration, h, poll } from './ui.js';

/** Job statuses that can still change. */
export const ACTIVE = ['queued', 'running'];

/**
 * Fills a job table's body from GET `path` (`rowOf` per job, or one row saying `empty` across `columns`);
 * resolves whether a job is still queued or running (the poll goes on while one is).
 */
export async function refreshJobTable(body, path, rowOf, { columns, empty }) {
  const { items: jobs } = await api(path);
  fill(
    body,
    jobs.length
      ? jobs.map(rowOf)
      : h('tr', {}, h('td', { colspan: String(columns), class: 'empty' }, empty)),
  );
  return jobs.some((job) => ACTIVE.includes(job.status));
}

/** Polls `refresh` every `ms` while it resolves true, showing a failure in `errors`; returns the stop. */
export function pollShowingErrors(refresh, errors, ms) {
  return poll(async () => {
    try {
      return await refresh();
    } catch (error) {
      errors.show(error);
      return false;
    }
  }, ms);
}

/** A job row's first cell: the short id (a link when `link` gives its attributes) over when it was created. */
export function jobIdCell(job, link) {
  const id = h('code', {}, job.id.slice(0, 8));
  return h(
    'td',
    {},
    link ? h('a', link, id) : id,
    h('div', { class: 'hint' }, formatDate(job.createdAt)),
  );
}

/** A job's status badge, its error if it failed, and any `notes` (hints; null ones are skipped). */
export function jobStatusCell(job, ...notes) {
  return h(
    'td',
    {},
    h('span', { class: `badge ${job.status}` }, job.status),
    [job.error, ...notes].map((note) => (note ? h('div', { class: 'hint' }, note) : null)),
  );
}

/** The last cell of a job's row: a Cancel button while the job is queued or running. */
export function cancelCell(job, { label, onclick, text = 'Cancel', disabled = false }) {
  return h(
    'td',
    {},
    ACTIVE.includes(job.status)
      ? h(
          'button',
          { type: 'button', class: 'danger small', disabled, 'aria-label': label, onclick },
          text,
        )
      : null,
  );
}

export function progressCell(job) {
  const p = job.progress || {};
  const parts = [];
  if (p.phase) parts.push(p.phase);
  if (p.epoch !== undefined && p.epochs) parts.push(`epoch ${p.epoch}/${p.epochs}`);
  if (p.step !== undefined && p.total) parts.push(`step ${p.step}/${p.total}`);
  if (typeof p.loss === 'number') parts.push(`loss ${p.loss.toFixed(4)}`);
  if (typeof p.imagesPerSecond === 'number') parts.push(`${p.imagesPerSecond.toFixed(0)} img/s`);
  if (ACTIVE.includes(job.status) && typeof p.etaSeconds === 'number')
    parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.message) parts.push(p.message);
  const fraction = p.total ? p.step / p.total : p.epochs ? p.epoch / p.epochs : null;
  return h(
    'td',
    { class: 'cell-progress' },
    fraction !== null && ACTIVE.includes(job.status)
      ? h('progress', {
          max: '1',
          value: String(Math.min(1, Math.max(0, fraction))),
          'aria-label': `Progress of job ${job.id}`,
        })
      : null,
    h('div', {}, parts.join(' · ') || '–'),
  );
}
