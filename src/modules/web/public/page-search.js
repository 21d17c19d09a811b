// Search by example: drop or pick an image, or click a result to search by that gallery item.
import { api } from './api.js';
import {
  apiImage,
  dropZone,
  field,
  fill,
  formatScore,
  h,
  labelInput,
  messageBox,
  pageHeading,
  statusLine,
} from './ui.js';

export function render(main) {
  const errors = messageBox();
  const status = statusLine();
  const results = h('ol', { class: 'grid results', 'aria-label': 'Results' });
  const queryPreview = h('div', { class: 'query-preview', 'aria-live': 'polite' });
  const k = h('input', {
    type: 'number',
    name: 'k',
    min: '1',
    max: '1000',
    step: '1',
    value: '10',
    required: true,
  });
  const label = labelInput('label', 'any label');
  let query = null; // { file } or { id, label }

  async function run() {
    if (!query) {
      errors.show('Pick or drop an image first.');
      return;
    }
    if (!k.reportValidity()) return;
    errors.clear();
    status.textContent = 'Searching…';
    results.setAttribute('aria-busy', 'true');
    try {
      let response;
      if (query.file) {
        const form = new FormData();
        form.append('file', query.file, query.file.name);
        form.append('k', k.value);
        if (label.value.trim()) form.append('label', label.value.trim());
        response = await api('/v1/search', { method: 'POST', form });
      } else {
        response = await api(`/v1/search/similar/${encodeURIComponent(query.id)}`, {
          query: { k: k.value, label: label.value.trim() },
        });
      }
      showResults(response);
    } catch (error) {
      status.textContent = '';
      fill(results);
      errors.show(error);
    } finally {
      results.removeAttribute('aria-busy');
    }
  }

  function showResults(response) {
    const n = response.results.length;
    status.textContent = `${n} result${n === 1 ? '' : 's'} from model ${response.modelId} in ${response.tookMs.toFixed(1)} ms.`;
    fill(
      results,
      response.results.map((hit, rank) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'tile',
              title: 'Search by this image',
              'aria-label': `Result ${rank + 1}: ${hit.label ?? 'no label'}, score ${formatScore(hit.score)}. Search by this image.`,
              onclick: () => {
                query = { id: hit.id, label: hit.label };
                showQuery();
                run();
              },
            },
            apiImage(`/v1/gallery/images/${hit.id}/content`, hit.label ?? 'unlabelled image'),
            h('span', { class: 'tile-label' }, hit.label ?? '(no label)'),
            h('span', { class: 'tile-score' }, `score ${formatScore(hit.score)}`),
          ),
        ),
      ),
    );
    if (n === 0)
      results.append(
        h(
          'li',
          { class: 'empty' },
          'No results (is the gallery empty, or the label filter too narrow?)',
        ),
      );
  }

  function showQuery() {
    if (query.file) {
      const url = URL.createObjectURL(query.file);
      const img = h('img', { src: url, alt: `Query: ${query.file.name}` });
      img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
      fill(queryPreview, img, h('span', {}, `Query: ${query.file.name}`));
    } else {
      fill(
        queryPreview,
        apiImage(
          `/v1/gallery/images/${query.id}/content`,
          `Query: gallery item ${query.label ?? ''}`,
        ),
        h('span', {}, `Query: gallery item ${query.label ?? query.id}`),
      );
    }
  }

  const zone = dropZone({
    label: 'Query image',
    id: 'search-file',
    onFiles: ([file]) => {
      query = { file };
      showQuery();
      run();
    },
  });

  fill(
    main,
    pageHeading(
      'Search',
      'Find the gallery images most similar to an example. Click a result to search by it.',
    ),
    h(
      'form',
      {
        class: 'card search-form',
        onsubmit: (event) => {
          event.preventDefault();
          run();
        },
      },
      zone,
      queryPreview,
      h(
        'div',
        { class: 'row' },
        field('Results (k)', k),
        field('Only label', label, 'Leave empty for all labels'),
      ),
      h('button', { type: 'submit', class: 'primary' }, 'Search'),
    ),
    errors,
    status,
    results,
  );
}
