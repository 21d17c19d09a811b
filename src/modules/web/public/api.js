// The API client of the console: the key lives in sessionStorage only (gone when the tab closes).
const KEY_STORAGE = 'rir.apiKey';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || body?.error || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  },
  /** { id, name, role } of the signed-in key, from GET /v1/auth/me. */
  identity: null,
  /**
   * What the API accepts and how its figures read, from GET /v1/meta (loaded with the identity): the
   * console keeps no copy of the backbones, losses, defences, attacks or figure rules.
   */
  meta: null,
};

/** Whether a key of `role` may use something that needs one of `roles` (admin may do everything). */
export function roleAllows(role, roles) {
  return role === 'admin' || roles.includes(role);
}

function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function errorFrom(response) {
  let body = null;
  const text = await response.text().catch(() => '');
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text.slice(0, 300) };
  }
  return new ApiError(response.status, body, response.headers.get('retry-after'));
}

/** Calls the API with the session key; resolves to the JSON body (null for 204), rejects with ApiError. */
export async function api(path, { method = 'GET', query, json, form, key = session.key } = {}) {
  const headers = {};
  if (key) headers['x-api-key'] = key;
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path + queryString(query), { method, headers, body });
  } catch (error) {
    throw new ApiError(0, { message: `Could not reach the server (${error.message})` });
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

/**
 * Every item of a list route (`{ items, total, page, limit }`), page after page: a registry longer than
 * one page (100) is shown whole, not cut at its first page.
 */
export async function apiItems(path, { limit = 100 } = {}) {
  const items = [];
  for (let page = 1; ; page++) {
    const result = await api(path, { query: { page, limit } });
    items.push(...result.items);
    if (result.items.length === 0 || items.length >= result.total) return items;
  }
}

/** POSTs multipart form data with upload progress (fetch cannot report it; XMLHttpRequest can). */
export function uploadWithProgress(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', path);
    request.setRequestHeader('x-api-key', session.key || '');
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    request.addEventListener('load', () => {
      let body = null;
      try {
        body = request.responseText ? JSON.parse(request.responseText) : null;
      } catch {
        body = { message: request.responseText.slice(0, 300) };
      }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(request.status, body, request.getResponseHeader('retry-after')));
    });
    request.addEventListener('error', () =>
      reject(new ApiError(0, { message: 'Could not reach the server (upload failed)' })),
    );
    request.send(form);
  });
}

// Images behind the key (gallery content, probe examples) are fetched and shown from blob URLs.
const imageCache = new Map();

/** An object URL for an image the API serves behind the key; cached (gallery content is immutable). */
export function imageUrl(path, { cache = true } = {}) {
  if (cache && imageCache.has(path)) return imageCache.get(path);
  const pending = (async () => {
    let response;
    try {
      response = await fetch(path, { headers: { 'x-api-key': session.key || '' } });
    } catch (error) {
      throw new ApiError(0, { message: `Could not reach the server (${error.message})` });
    }
    if (!response.ok) throw await errorFrom(response);
    return URL.createObjectURL(await response.blob());
  })();
  if (cache) {
    imageCache.set(path, pending);
    pending.catch(() => imageCache.delete(path));
  }
  return pending;
}

/** Forgets cached images (on sign-out, or when a gallery item is deleted). */
export function forgetImages(path) {
  for (const [cached, pending] of imageCache) {
    if (path && cached !== path) continue;
    pending.then((url) => URL.revokeObjectURL(url)).catch(() => undefined);
    imageCache.delete(cached);
  }
}
