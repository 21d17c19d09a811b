// Gallery: browse with paging and a label filter; admins upload many images (with progress) and delete.
import { api, forgetImages, roleAllows, uploadWithProgress } from './api.js';
import {
  apiImage,
  confirmDialog,
  describeError,
  dropZone,
  field,
  fill,
  h,
  labelInput,
  messageBox,
  statusLine,
} from './ui.js';

const PAGE_SIZE = 24;
/** Uploads go in batches: one bad file rejects its whole request, so smaller batches lose less. */
const BATCH_FILES = 16;
const BATCH_BYTES = 8 * 1024 * 1024;

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function batchFiles(files) {
  const batches = [];
  let current = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= BATCH_FILES || bytes + file.size > BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) batches.push(current);
  return batches;
}

export function render(main, { identity }) {
  const isAdmin = roleAllows(identity.role, ['admin']);
  const errors = messageBox();
  const status = statusLine();
  const grid = h('ul', { class: 'grid gallery', 'aria-label': 'Gallery images' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Gallery pages' });
  const labelFilter = labelInput('label-filter', 'all labels');
  let page = 1;

  async function load() {
    errors.clear();
    grid.setAttribute('aria-busy', 'true');
    try {
      const result = await api('/v1/gallery/images', {
        query: { page, limit: PAGE_SIZE, label: labelFilter.value.trim() },
      });
      const pages = Math.max(1, Math.ceil(result.total / result.limit));
      if (page > pages && result.total > 0) {
        page = pages;
        return load();
      }
      status.textContent = `${result.total} image${result.total === 1 ? '' : 's'}${labelFilter.value.trim() ? ` labelled "${labelFilter.value.trim()}"` : ''}; page ${page} of ${pages}.`;
      fill(grid, result.items.map(tile));
      if (result.items.length === 0)
        grid.append(h('li', { class: 'empty' }, 'No images here yet.'));
      fill(
        pager,
        h(
          'button',
          { type: 'button', disabled: page <= 1, onclick: () => go(page - 1) },
          '← Previous',
        ),
        h('span', {}, `Page ${page} of ${pages}`),
        h(
          'button',
          { type: 'button', disabled: page >= pages, onclick: () => go(page + 1) },
          'Next →',
        ),
      );
    } catch (error) {
      errors.show(error);
    } finally {
      grid.removeAttribute('aria-busy');
    }
  }

  function go(next) {
    page = next;
    load();
  }

  function tile(item) {
    const name = item.label ?? 'unlabelled image';
    return h(
      'li',
      { class: 'tile' },
      apiImage(`/v1/gallery/images/${item.id}/content`, name),
      h('span', { class: 'tile-label' }, item.label ?? '(no label)'),
      h(
        'span',
        { class: 'tile-meta' },
        `${item.width}×${item.height} · ${new Date(item.createdAt).toLocaleDateString()}`,
      ),
      isAdmin
        ? h(
            'button',
            {
              type: 'button',
              class: 'danger small',
              'aria-label': `Delete ${name} (${item.id})`,
              onclick: async () => {
                if (
                  !(await confirmDialog(
                    `Delete this ${name} from the gallery, the index and the disk?`,
                    'Delete',
                  ))
                )
                  return;
                try {
                  await api(`/v1/gallery/images/${item.id}`, { method: 'DELETE' });
                  forgetImages(`/v1/gallery/images/${item.id}/content`);
                  status.textContent = `Deleted ${name}.`;
                  await load();
                } catch (error) {
                  errors.show(error);
                }
              },
            },
            'Delete',
          )
        : null,
    );
  }

  fill(
    main,
    h('h1', {}, 'Gallery'),
    isAdmin ? uploadForm(load) : null,
    h(
      'form',
      {
        class: 'filter row',
        role: 'search',
        onsubmit: (event) => {
          event.preventDefault();
          go(1);
        },
      },
      field('Filter by label', labelFilter),
      h('button', { type: 'submit' }, 'Apply'),
    ),
    errors,
    status,
    grid,
    pager,
  );
  load();
}

function uploadForm(onUploaded) {
  const errors = messageBox();
  const status = statusLine();
  const progress = h('progress', {
    max: '1',
    value: '0',
    hidden: true,
    'aria-label': 'Upload progress',
  });
  const label = labelInput('upload-label');
  const metadata = h('input', {
    type: 'text',
    name: 'upload-metadata',
    placeholder: '{"source": "camera"}',
  });
  const chosen = h('p', { class: 'hint' }, 'No files chosen.');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  let files = [];

  const zone = dropZone({
    label: 'Images to add',
    multiple: true,
    id: 'upload-files',
    onFiles: (picked) => {
      files = picked;
      chosen.textContent = `${files.length} file${files.length === 1 ? '' : 's'} chosen (${formatBytes(files.reduce((sum, file) => sum + file.size, 0))}).`;
    },
  });

  async function upload(event) {
    event.preventDefault();
    errors.clear();
    if (!files.length) return errors.show('Choose one or more images first.');
    const text = metadata.value.trim();
    if (text) {
      try {
        const parsed = JSON.parse(text);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
          throw new Error('not an object');
      } catch {
        return errors.show('Metadata must be a JSON object, like {"source": "camera"}.');
      }
    }
    const batches = batchFiles(files);
    const totalBytes = files.reduce((sum, file) => sum + file.size, 0) || 1;
    let doneBytes = 0;
    let added = 0;
    let duplicates = 0;
    const failures = [];
    submit.disabled = true;
    progress.hidden = false;
    progress.max = totalBytes;
    progress.value = 0;
    let first = 1;
    for (const [n, batch] of batches.entries()) {
      const batchBytes = batch.reduce((sum, file) => sum + file.size, 0);
      status.textContent = `Uploading batch ${n + 1} of ${batches.length}…`;
      const form = new FormData();
      for (const file of batch) form.append('files', file, file.name);
      if (label.value.trim()) form.append('label', label.value.trim());
      if (text) form.append('metadata', text);
      try {
        const result = await uploadWithProgress('/v1/gallery/images', form, (loaded, total) => {
          progress.value = doneBytes + (batchBytes * loaded) / (total || 1);
        });
        for (const item of result.items) item.duplicate ? duplicates++ : added++;
      } catch (error) {
        const files =
          batch.length > 1
            ? `Files ${first}–${first + batch.length - 1}`
            : `File ${first} (${batch[0].name})`;
        failures.push(
          batches.length > 1 ? `${files}: ${describeError(error)}` : describeError(error),
        );
      }
      doneBytes += batchBytes;
      progress.value = doneBytes;
      first += batch.length;
    }
    submit.disabled = false;
    const kept = duplicates ? `, ${duplicates} already in the gallery` : '';
    status.textContent =
      added || duplicates
        ? `Added ${added} image${added === 1 ? '' : 's'}${kept}.`
        : 'No images were added.';
    if (failures.length === 1 && batches.length === 1)
      errors.show(`Nothing was stored. ${failures[0]}`);
    else if (failures.length)
      errors.show(
        `${failures.length} of ${batches.length} batches were rejected (nothing of those was stored). ${failures.join(' ')}`,
      );
    if (!failures.length) {
      files = [];
      chosen.textContent = 'No files chosen.';
    }
    onUploaded();
  }

  return h(
    'details',
    { class: 'card', open: true },
    h('summary', {}, 'Upload images'),
    h(
      'form',
      { onsubmit: upload },
      zone,
      chosen,
      h(
        'div',
        { class: 'row' },
        field('Label for these images', label),
        field('Metadata (JSON object, optional)', metadata),
      ),
      submit,
      progress,
      status,
      errors,
    ),
  );
}
