// The console shell: sign-in, role-aware navigation and a hash router (#/search, #/probes/<id>, ...).
import { api, ApiError, forgetImages, roleAllows, session } from './api.js';
import { field, fill, h, messageBox, submitHandler } from './ui.js';
import * as searchPage from './page-search.js';
import * as galleryPage from './page-gallery.js';
import * as trainingPage from './page-training.js';
import * as modelsPage from './page-models.js';
import * as probesPage from './page-probes.js';

/** Pages in nav order, with the roles that may open them (admin opens all). */
const PAGES = [
  { id: 'search', title: 'Search', roles: ['search'], module: searchPage },
  { id: 'gallery', title: 'Gallery', roles: ['search'], module: galleryPage },
  { id: 'training', title: 'Training', roles: ['admin'], module: trainingPage },
  { id: 'models', title: 'Models', roles: ['admin'], module: modelsPage },
  { id: 'probes', title: 'Probes', roles: ['security'], module: probesPage },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const identityBox = document.getElementById('identity');
let cleanup = null;

function pagesFor(role) {
  return PAGES.filter((page) => roleAllows(role, page.roles));
}

function parseRoute() {
  const [id = '', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { id, params: rest.map(decodeURIComponent) };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderNav(current) {
  if (!session.identity) {
    fill(nav);
    fill(identityBox);
    return;
  }
  const links = pagesFor(session.identity.role).map((page) =>
    h(
      'li',
      {},
      h(
        'a',
        { href: `#/${page.id}`, 'aria-current': page.id === current ? 'page' : null },
        page.title,
      ),
    ),
  );
  fill(nav, h('ul', {}, links));
  fill(
    identityBox,
    h(
      'span',
      { class: 'who' },
      `${session.identity.name} · `,
      h('strong', { class: 'role' }, session.identity.role),
    ),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  session.key = null;
  session.identity = null;
  session.meta = null;
  forgetImages();
  navigate('#/signin');
}

function renderSignIn(note) {
  document.title = 'Sign in · rir console';
  renderNav(null);
  const errors = messageBox();
  const input = h('input', {
    type: 'password',
    name: 'apiKey',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: submitHandler(
        button,
        errors,
        async () => {
          const identity = await api('/v1/auth/me', { key: input.value.trim() });
          session.key = input.value.trim();
          session.identity = identity;
          const first = pagesFor(identity.role)[0];
          navigate(`#/${first ? first.id : 'signin'}`);
        },
        () => input.focus(),
      ),
    },
    field(
      'API key',
      input,
      'Kept in this browser tab only (session storage); it is sent as x-api-key.',
    ),
    button,
  );
  fill(
    main,
    h('h1', { tabindex: '-1' }, 'Sign in'),
    note ? h('p', { class: 'message info', role: 'status' }, note) : null,
    errors,
    form,
  );
  input.focus();
}

async function route() {
  cleanup?.();
  cleanup = null;
  const { id, params } = parseRoute();
  if (!session.key) return renderSignIn();
  if (!session.identity || !session.meta) {
    try {
      session.identity ??= await api('/v1/auth/me');
      session.meta ??= await api('/v1/meta');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        session.key = null;
        return renderSignIn('Your saved key is no longer accepted; sign in again.');
      }
      fill(main, h('h1', { tabindex: '-1' }, 'Console'), errorPage(error));
      return;
    }
  }
  const allowed = pagesFor(session.identity.role);
  if (id === 'signin' || id === '') {
    if (allowed[0]) return navigate(`#/${allowed[0].id}`);
  }
  const page = PAGES.find((candidate) => candidate.id === id);
  renderNav(page?.id);
  if (!page) {
    fill(
      main,
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, `There is no page "${id}".`),
    );
    return;
  }
  if (!roleAllows(session.identity.role, page.roles)) return renderRefused(page);
  document.title = `${page.title} · rir console`;
  main.replaceChildren();
  cleanup =
    page.module.render(main, {
      identity: session.identity,
      meta: session.meta,
      params,
      navigate,
    }) || null;
  // Move focus to the new page's heading so keyboard and screen reader users land on it.
  main.querySelector('h1')?.setAttribute('tabindex', '-1');
  main.querySelector('h1')?.focus();
}

/** A page the key may not open: say so, in the API's own words when the page has an API to ask. */
async function renderRefused(page) {
  const box = messageBox();
  fill(main, h('h1', { tabindex: '-1' }, page.title), box);
  main.querySelector('h1').focus();
  const fallback = `Your key has role ${session.identity.role}; the ${page.title} page needs role ${[...page.roles, 'admin'].filter((r, i, all) => all.indexOf(r) === i).join(' or ')}.`;
  if (!page.module.API_PATH) return box.show(fallback);
  try {
    await api(page.module.API_PATH);
    box.show(fallback);
  } catch (error) {
    box.show(error instanceof ApiError && error.status === 403 ? error : fallback);
  }
}

function errorPage(error) {
  const box = messageBox();
  box.show(error);
  return box;
}

window.addEventListener('hashchange', route);
route();
