// Small DOM helpers shared by the pages: element builder, error messages, confirm dialog, drop zone.
import { ApiError, imageUrl } from './api.js';

/** h('button', { class: 'primary', onclick }, 'Text') -> element; null/false children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name in element && typeof value !== 'string') {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of an element. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/**
 * A scrollable table: a caption for screen readers, a header row (a name, or [name, class] for a
 * column such as 'num'), then `body`, a tbody the caller fills (or the rows to put in a new one).
 */
export function dataTable(caption, headers, body, attributes = {}) {
  const headerCell = (header) => {
    const [name, cls] = Array.isArray(header) ? header : [header];
    return h('th', { scope: 'col', class: cls }, name);
  };
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      attributes,
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, headers.map(headerCell))),
      body instanceof HTMLTableSectionElement ? body : h('tbody', {}, body),
    ),
  );
}

/**
 * A form's submit handler: clears `errors`, disables `button` while `task` runs (so a double click does
 * not submit twice), and shows what it throws (then calls `onError`, e.g. to focus the field at fault).
 */
export function submitHandler(button, errors, task, onError) {
  return async (event) => {
    event.preventDefault();
    errors.clear();
    button.disabled = true;
    try {
      await task();
    } catch (error) {
      errors.show(error);
      onError?.(error);
    } finally {
      button.disabled = false;
    }
  };
}

/** A page's title and the lead paragraph that says what the page is for. */
export function pageHeading(title, lead) {
  return [h('h1', {}, title), h('p', { class: 'lead' }, lead)];
}

/** A gallery label's text field, as long as the API allows a label (200 characters). */
export function labelInput(name, placeholder) {
  return h('input', { type: 'text', name, maxlength: '200', placeholder });
}

let fieldCounter = 0;
/** A labelled form field: label + control (+ hint), the control gets an id so the label points at it. */
export function field(labelText, control, hint) {
  const id = control.id || `field-${++fieldCounter}`;
  control.id = id;
  const hintElement = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), control, hintElement);
}

/** What went wrong, in words a person can act on. */
export function describeError(error) {
  if (!(error instanceof ApiError))
    return `Something went wrong in the console: ${error?.message ?? error}`;
  // Drop an exception class name the server left in front of its message ("ThrottlerException: ...").
  const message = error.message.replace(/^[A-Za-z]+Exception:\s*/, '');
  switch (true) {
    case error.status === 0:
      return message;
    case error.status === 401:
      return `Your API key was not accepted: ${message}. Sign in again with a valid key.`;
    case error.status === 403:
      return `Not allowed: ${message}`;
    case error.status === 400:
      return `Invalid request: ${message}`;
    case error.status === 404:
      return `Not found: ${message}`;
    case error.status === 409:
      return `Conflict: ${message}`;
    case error.status === 413:
      return `Too large: ${message}`;
    case error.status === 415:
      return `Unsupported file: ${message}`;
    case error.status === 429: {
      // The wait once: from Retry-After, else from the server's "Too many requests, retry in N s",
      // whose words are then not repeated; another message (a proxy's, say) is kept.
      const stated = /retry in (\d+) s/i.exec(message);
      const wait = Number(error.retryAfter ?? stated?.[1]);
      const when =
        Number.isFinite(wait) && wait > 0 ? `Try again in ${wait} s.` : 'Try again shortly.';
      const detail = stated || /^too many requests\.?$/i.test(message) ? '' : ` (${message})`;
      return `Too many requests: the server is rate limiting this client${detail}. ${when}`;
    }
    case error.status === 503:
      return `Not available right now: ${message}`;
    case error.status >= 500:
      return `The server failed (${error.status}): ${message}`;
    default:
      return `The request was refused (${error.status}): ${message}`;
  }
}

/** An alert region: empty until show(error | text); announced to screen readers when it changes. */
export function messageBox() {
  const box = h('div', { class: 'message', role: 'alert', hidden: true });
  return Object.assign(box, {
    show(what, kind = 'error') {
      box.className = `message ${kind}`;
      box.textContent = typeof what === 'string' ? what : describeError(what);
      box.hidden = false;
    },
    clear() {
      box.hidden = true;
      box.textContent = '';
    },
  });
}

/** A status line for progress and results (polite live region). */
export function statusLine() {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
}

/** Asks yes/no in the page's modal dialog (keyboard: Enter confirms, Escape cancels). */
export function confirmDialog(message, confirmLabel = 'Confirm') {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-message').textContent = message;
  document.getElementById('confirm-ok').textContent = confirmLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        opener?.focus?.();
        resolve(dialog.returnValue === 'ok');
      },
      { once: true },
    );
    dialog.returnValue = 'cancel';
    dialog.showModal();
    document.getElementById('confirm-ok').focus();
  });
}

/** An <img> that loads an API image (sent with the key) and says so if it cannot. */
export function apiImage(path, alt, { cache = true } = {}) {
  const img = h('img', { alt, loading: 'lazy', decoding: 'async' });
  imageUrl(path, { cache })
    .then((url) => {
      img.src = url;
    })
    .catch((error) => {
      img.alt = `${alt} (could not load: ${describeError(error)})`;
      img.classList.add('broken');
    });
  return img;
}

/**
 * A drop zone that is also a keyboard-usable file picker: a real <input type=file> under a label.
 * onFiles receives an array of File.
 */
export function dropZone({ label, multiple = false, onFiles, id }) {
  const input = h('input', {
    type: 'file',
    accept: 'image/*',
    multiple,
    id,
    class: 'visually-hidden',
    onchange: () => {
      if (input.files.length) onFiles([...input.files]);
    },
  });
  const zone = h(
    'label',
    { class: 'drop-zone', for: input.id || (input.id = `drop-${++fieldCounter}`) },
    h('span', { class: 'drop-title' }, label),
    h(
      'span',
      { class: 'hint' },
      multiple
        ? 'Drop images here, or press to pick files'
        : 'Drop an image here, or press to pick one',
    ),
  );
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const files = [...(event.dataTransfer?.files ?? [])].filter(
      (file) => file.type.startsWith('image/') || !file.type,
    );
    if (files.length) onFiles(multiple ? files : files.slice(0, 1));
  });
  return h('div', { class: 'drop-wrap' }, input, zone);
}

export function formatScore(value) {
  return typeof value === 'number' ? value.toFixed(3) : '–';
}

/** A rate as the API gives it, a fraction in [0, 1], shown as a percent: 0.863 -> "86.3%". */
export function formatPercent(fraction, digits = 1) {
  return typeof fraction === 'number' && Number.isFinite(fraction)
    ? `${(100 * fraction).toFixed(digits)}%`
    : '–';
}

/** ERS as the API gives it (a fraction of its 100 points), in points: 0.26 -> "26.0". */
export function formatPoints(fraction, digits = 1) {
  return typeof fraction === 'number' && Number.isFinite(fraction)
    ? (100 * fraction).toFixed(digits)
    : '–';
}

export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatDate(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

/** Repeats `task` every `ms` until stop() (or until it returns false); one call at a time. */
export function poll(task, ms) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    let again = true;
    try {
      again = (await task()) !== false;
    } catch {
      again = true;
    }
    if (!stopped && again) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
