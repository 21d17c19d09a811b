// Shared by the job pages (training, probes): job progress.
import { formatDuration, h } from './ui.js';

/** Job statuses that can still change. */
export const ACTIVE = ['queued', 'running'];

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
