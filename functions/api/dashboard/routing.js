// The hash routes, and which page shows.

import { SECTION_TITLES } from './constants.js';
import { $, h } from './dom.js';
import { enc, query } from './api.js';
import { errorBox } from './notices.js';
import { hasToken, showApp, showTokenForm } from './session.js';
import { renderOverview } from './overview.js';
import { renderClients } from './clients.js';
import { renderReview } from './review.js';
import { renderOutbox } from './outbox.js';
import { renderPipeline } from './pipeline.js';
import { renderCatalog } from './catalog.js';

export const ROUTES = {
  overview: renderOverview,
  clients: renderClients,
  review: renderReview,
  outbox: renderOutbox,
  pipeline: renderPipeline,
  catalog: renderCatalog,
};

// serial: a newer navigation makes older, still loading, pages stale; keyHandler: the page's keyboard shortcuts
export const navigation = { serial: 0, keyHandler: null };

/** "#/clients/u-1" to { section: 'clients', rest: ['u-1'] }; a query after "?" is the page's filters (params). */
export function parseRoute() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, search = ''] = hash.split('?', 2);
  const parts = path.split('/').map(safeDecode);
  const section = parts[0] in ROUTES ? parts[0] : 'overview';
  return { section, rest: parts.slice(1).filter((part) => part !== ''), params: new URLSearchParams(search) };
}

export function safeDecode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function highlightNav(section) {
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

export async function route(focusMain = false) {
  if (!hasToken()) {
    showTokenForm('');
    return;
  }
  showApp();
  const { section, rest, params } = parseRoute();
  highlightNav(section);
  document.title = `${SECTION_TITLES[section]} \u00b7 Win-back console`;
  navigation.serial += 1;
  const serial = navigation.serial;
  navigation.keyHandler = null;
  const main = $('main');
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading\u2026'));
  const ctx = {
    isCurrent: () => serial === navigation.serial,
    mount(node) {
      if (serial !== navigation.serial) return false;
      main.replaceChildren(node);
      main.removeAttribute('aria-busy');
      if (focusMain) main.focus({ preventScroll: true });
      return true;
    },
  };
  try {
    await ROUTES[section](ctx, rest, params);
  } catch (error) {
    if (error.status === 401 || !ctx.isCurrent()) return;
    ctx.mount(h('section', { class: 'page page-error' },
      h('h1', {}, SECTION_TITLES[section]),
      errorBox(error),
      h('button', { type: 'button', testid: 'retry', onclick: () => route() }, 'Retry'),
    ));
  }
}

export function onHashChange() {
  if (location.hash && !location.hash.startsWith('#/')) return; // an in-page anchor, not a route
  route(true);
}

export function clientHref(userId) {
  return `#/clients/${enc(userId)}`;
}

/** The catalog with its filters ({ category, inStock }), which a reload or a shared link keeps. */
export function catalogHref(filters) {
  return `#/catalog${query(filters)}`;
}
