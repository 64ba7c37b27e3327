// Operator console for the win-back pipeline. Plain ES2020 module, no dependencies.
// Every string from the API becomes a text node (see h()); an email's HTML only ever goes into
// <iframe sandbox="" srcdoc>, so nothing the API returns can run in this page.

const TOKEN_KEY = 'engagement.apiToken';
const REVIEWER_KEY = 'engagement.reviewer';
const PAGE_SIZE = 25;
const REVIEW_PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 300;
const REDRIVE_MAX = 100;

const BANDS = ['critical', 'at_risk', 'moderate', 'good'];
const BAND_COLOURS = { critical: '#c0392b', at_risk: '#e67e22', moderate: '#f1c40f', good: '#27ae60', unknown: '#95a5a6' };
const BAND_LABELS = { critical: 'Critical', at_risk: 'At risk', moderate: 'Moderate', good: 'Good', unknown: 'Unknown' };
const STATUS_LABELS = {
  PENDING_REVIEW: 'Pending review', APPROVED: 'Approved', SCHEDULED: 'Scheduled', SENDING: 'Sending',
  SENT: 'Sent', FAILED: 'Failed', REJECTED: 'Rejected', CANCELLED: 'Cancelled',
};
const REASON_LABELS = {
  eligible: 'Eligible (sent)', quiet_hours: 'Quiet hours (sent later)', not_at_risk: 'Not at risk',
  cooldown: 'Cooldown', opted_out: 'Opted out', suppressed: 'Suppressed', frequency_cap: 'Frequency cap',
  held_out: 'Held out (holdout)', client_missing: 'Client missing',
};
const FACTOR_LABELS = { recency: 'Recency', frequency: 'Frequency', value: 'Order value' };
const SECTION_TITLES = { overview: 'Overview', clients: 'Clients', review: 'Review', outbox: 'Outbox', pipeline: 'Pipeline' };

/* ---------- DOM ---------- */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an element. Strings and numbers among the children become text nodes, never markup. */
function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) { // listeners only: an on* attribute would be inline script
      if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    } else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children, with h()'s rules (null and false are left out; strings are text). */
function fill(el, ...children) {
  el.replaceChildren();
  return build(el, null, children);
}

function $(id) {
  return document.getElementById(id);
}

let uniqueCounter = 0;
function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/* ---------- Formatting (the browser's locale) ---------- */

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const scoreFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const moneyFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

function parseDate(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function formatDate(value, { dateOnly = false } = {}) {
  const date = parseDate(value);
  if (!date) return value ? String(value) : '\u2014';
  return (dateOnly ? dateFormat : dateTimeFormat).format(date);
}

/** A <time> element in the browser's locale, the full instant in its tooltip. */
function time(value, options) {
  const date = parseDate(value);
  if (!date) return value ? String(value) : '\u2014';
  return h('time', { datetime: date.toISOString(), title: fullFormat.format(date) }, formatDate(value, options));
}

function formatNumber(value, format = integerFormat) {
  return typeof value === 'number' && Number.isFinite(value) ? format.format(value) : value == null ? '\u2014' : String(value);
}

function formatRate(rate) {
  return typeof rate === 'number' ? percentFormat.format(rate) : '\u2014';
}

function formatLift(lift) {
  if (typeof lift !== 'number') return '\u2014';
  const points = scoreFormat.format(Math.abs(lift * 100));
  return `${lift < 0 ? '\u2212' : '+'}${points} pts`;
}

function formatAge(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '\u2014';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** "2026-11-28T12:00:00Z" to "2026-11-28T13:00" in local time, for <input type="datetime-local">. */
function toLocalInput(value) {
  const date = parseDate(value);
  if (!date) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (the browser's time zone) as ISO 8601 in UTC, which carries its offset (Z). */
function fromLocalInput(value) {
  const date = parseDate(value);
  return date ? date.toISOString() : value;
}

function label(labels, key) {
  return labels[key] || String(key);
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, message, errors = [], retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}

const enc = encodeURIComponent;

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The one way to call the API: adds the token, sends JSON, parses JSON, throws ApiError on failure. */
async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showTokenForm('');
    throw new ApiError(401, 'sign in with an API token first');
  }
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'the API cannot be reached: check the connection and retry');
  }
  const data = await readJson(response);
  if (response.ok) return data;
  const errors = Array.isArray(data && data.errors) ? data.errors : [];
  const error = new ApiError(response.status, failureMessage(response, data), errors, response.headers.get('Retry-After'));
  if (response.status === 401) signOut(`The API refused the token: ${error.message}. Enter a valid token.`);
  throw error;
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function failureMessage(response, data) {
  if (response.status === 503) return 'temporarily unavailable, retry shortly';
  if (data && typeof data.message === 'string' && data.message) return data.message;
  return `the request failed (HTTP ${response.status})`;
}

/* ---------- Notices and errors ---------- */

let noticeTimer = null;

/** The page-wide status line (role="status"): kind is info, success or error. */
function notify(message, kind = 'info') {
  const area = $('notice');
  clearTimeout(noticeTimer);
  area.className = `notice notice-${kind}`;
  area.replaceChildren(
    h('span', { class: 'notice-text' }, message),
    h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss notice', onclick: clearNotice }, '\u00d7'),
  );
  if (kind !== 'error') noticeTimer = setTimeout(clearNotice, 10000);
}

function clearNotice() {
  clearTimeout(noticeTimer);
  const area = $('notice');
  area.className = 'notice';
  area.replaceChildren();
}

/** The API's message and each of its errors (field: message), as text. */
function errorBox(error) {
  const details = (error.errors || []).map((item) =>
    h('li', {}, h('code', {}, errorField(item)), ': ', item && item.message != null ? String(item.message) : 'invalid'),
  );
  return h('div', { class: 'error-box', role: 'alert', testid: 'error' },
    h('p', {}, String(error.message || error)),
    details.length ? h('ul', {}, details) : null,
  );
}

function errorField(item) {
  if (!item) return 'request';
  const field = item.field ? String(item.field) : '';
  return field || String(item.in || 'request');
}

/** Show an error next to what failed (slot), mark the form's fields it names, and in the notice area. */
function showError(slot, error, form) {
  if (error.status === 401) return; // the token form has taken over
  if (slot) slot.replaceChildren(errorBox(error));
  if (form) markInvalid(form, error.errors || []);
  notify(error.message, 'error');
}

/** A list that failed to load offers to try again. */
function showLoadError(slot, error, retry) {
  showError(slot, error);
  if (slot.firstChild) slot.firstChild.append(h('button', { type: 'button', testid: 'retry', onclick: retry }, 'Retry'));
}

function markInvalid(form, errors) {
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
  for (const item of errors) {
    const name = errorField(item).split('.')[0];
    const field = form.elements.namedItem(name);
    if (field && field.setAttribute) field.setAttribute('aria-invalid', 'true');
  }
}

function clearErrors(slot, form) {
  if (slot) slot.replaceChildren();
  if (form) markInvalid(form, []);
}

/** Run an action from a button or form: disable it meanwhile; errors go to slot. */
async function withBusy(control, action) {
  if (control) control.disabled = true;
  try {
    return await action();
  } finally {
    if (control) control.disabled = false;
  }
}

/* ---------- Sign-in ---------- */

function hasToken() {
  return Boolean(sessionStorage.getItem(TOKEN_KEY));
}

function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  showTokenForm(message);
}

function showTokenForm(message) {
  routeSerial += 1; // pages still loading must not appear behind the form
  $('shell-header').hidden = true;
  $('main').hidden = true;
  $('main').replaceChildren();
  $('token-view').hidden = false;
  $('token-message').textContent = message || '';
  keyHandler = null;
  $('token-input').value = '';
  $('token-input').focus();
}

function showApp() {
  $('token-view').hidden = true;
  $('token-message').textContent = '';
  $('shell-header').hidden = false;
  $('main').hidden = false;
}

function onTokenSubmit(event) {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!/^[\x21-\x7e]+$/.test(token)) {
    $('token-message').textContent = 'The token is printable ASCII characters, without spaces.';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  clearNotice();
  route();
}

function onSignOutClick() {
  signOut('Signed out.');
  clearNotice();
}

/* ---------- Routing ---------- */

const ROUTES = {
  overview: renderOverview,
  clients: renderClients,
  review: renderReview,
  outbox: renderOutbox,
  pipeline: renderPipeline,
};

let routeSerial = 0; // a newer navigation makes older, still loading, pages stale
let keyHandler = null; // the current page's keyboard shortcuts

function parseRoute() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const parts = hash.split('/').map(safeDecode);
  const section = parts[0] in ROUTES ? parts[0] : 'overview';
  return { section, rest: parts.slice(1).filter((part) => part !== '') };
}

function safeDecode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function highlightNav(section) {
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function route(focusMain = false) {
  if (!hasToken()) {
    showTokenForm('');
    return;
  }
  showApp();
  const { section, rest } = parseRoute();
  highlightNav(section);
  document.title = `${SECTION_TITLES[section]} \u00b7 Win-back console`;
  routeSerial += 1;
  const serial = routeSerial;
  keyHandler = null;
  const main = $('main');
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading\u2026'));
  const ctx = {
    isCurrent: () => serial === routeSerial,
    mount(node) {
      if (serial !== routeSerial) return false;
      main.replaceChildren(node);
      main.removeAttribute('aria-busy');
      if (focusMain) main.focus({ preventScroll: true });
      return true;
    },
  };
  try {
    await ROUTES[section](ctx, rest);
  } catch (error) {
    if (error.status === 401 || !ctx.isCurrent()) return;
    ctx.mount(h('section', { class: 'page page-error' },
      h('h1', {}, SECTION_TITLES[section]),
      errorBox(error),
      h('button', { type: 'button', testid: 'retry', onclick: () => route() }, 'Retry'),
    ));
  }
}

function onHashChange() {
  if (location.hash && !location.hash.startsWith('#/')) return; // an in-page anchor, not a route
  route(true);
}

function clientHref(userId) {
  return `#/clients/${enc(userId)}`;
}

/* ---------- Shared pieces ---------- */

function pageHeader(title, ...extra) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), extra.length ? h('div', { class: 'page-tools' }, extra) : null);
}

function bandBadge(band) {
  if (!band) return h('span', { class: 'muted' }, '\u2014');
  const known = band in BAND_LABELS ? band : 'unknown';
  return h('span', { class: `badge band band-${known}`, 'data-band': String(band) }, label(BAND_LABELS, band));
}

function statusBadge(status) {
  const known = status in STATUS_LABELS ? status : 'UNKNOWN';
  return h('span', { class: `badge status status-${known}`, 'data-status': String(status) }, label(STATUS_LABELS, status));
}

function scoreText(score) {
  if (!score || typeof score.value !== 'number') return '\u2014';
  return formatNumber(score.value, scoreFormat);
}

function clientFlags(client) {
  const flags = [];
  if (client.optedOut === true) flags.push(h('span', { class: 'flag flag-opted-out' }, 'Opted out'));
  if (client.suppressed === true) flags.push(h('span', { class: 'flag flag-suppressed' }, 'Suppressed'));
  if (client.problem) {
    flags.push(h('span', { class: 'flag flag-problem', testid: 'problem' },
      h('span', { 'aria-hidden': 'true' }, '\u26a0 '), 'Problem: ', String(client.problem)));
  }
  return flags.length ? h('span', { class: 'flags' }, flags) : h('span', { class: 'muted' }, '\u2014');
}

/** Previous/Next over cursor pages. state: { cursor, previous: [cursors] }; load() fetches state.cursor. */
function pager(state, load) {
  const previous = h('button', { type: 'button', testid: 'previous-page', onclick: goPrevious }, '\u2190 Previous page');
  const next = h('button', { type: 'button', testid: 'next-page', onclick: goNext }, 'Next page \u2192');
  const position = h('span', { class: 'muted' });
  let nextCursor = null;

  function update(cursorAfter) {
    nextCursor = cursorAfter || null;
    previous.disabled = state.previous.length === 0;
    next.disabled = nextCursor === null;
    position.textContent = `Page ${state.previous.length + 1}`;
  }
  function goPrevious() {
    if (!state.previous.length) return;
    state.cursor = state.previous.pop();
    load();
  }
  function goNext() {
    if (nextCursor === null) return;
    state.previous.push(state.cursor);
    state.cursor = nextCursor;
    load();
  }
  return { element: h('nav', { class: 'pager', 'aria-label': 'Pages' }, previous, position, next), update };
}

/** The rendered email in an empty sandbox: no scripts, no same origin, no forms, no navigation. */
function emailPreview(email) {
  if (typeof email.content !== 'string' || !email.content) {
    return h('p', { class: 'muted' }, 'No HTML version to preview.');
  }
  const frame = h('iframe', {
    sandbox: '',
    class: 'email-preview',
    title: `Preview of the email \u201c${email.subject || ''}\u201d`,
    referrerpolicy: 'no-referrer',
    testid: 'email-preview',
  });
  frame.srcdoc = email.content;
  return frame;
}

function textVersion(email) {
  if (!email.textContent) return null;
  return h('details', { class: 'text-version' }, h('summary', {}, 'Plain-text version'), h('pre', {}, String(email.textContent)));
}

function transitionsList(transitions) {
  if (!Array.isArray(transitions) || !transitions.length) return null;
  return h('details', { class: 'transitions' },
    h('summary', {}, `History (${transitions.length})`),
    h('ol', {}, transitions.map((step) => h('li', {},
      time(step.at), ' ',
      step.fromStatus ? label(STATUS_LABELS, step.fromStatus) : 'created', ' \u2192 ', label(STATUS_LABELS, step.toStatus),
      step.by ? ` by ${step.by}` : '',
      step.reason ? ` (${step.reason})` : '',
    ))),
  );
}

function definitionList(rows) {
  return h('dl', { class: 'fields' }, rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

/** Headers, status details, history and the preview of one email (outbox rows, a client's emails). */
function emailDetails(email) {
  const headers = email.sentHeaders && typeof email.sentHeaders === 'object' ? Object.entries(email.sentHeaders) : [];
  return h('div', { class: 'email-details' },
    definitionList([
      ['Status', statusBadge(email.status)],
      ['Email id', h('code', {}, String(email.emailId))],
      email.sendAt ? ['Send at', time(email.sendAt)] : null,
      email.sentAt ? ['Sent', time(email.sentAt)] : null,
      email.failureReason ? ['Failure', String(email.failureReason)] : null,
      email.providerMessageId ? ['SES message id', h('code', {}, String(email.providerMessageId))] : null,
      email.convertedAt ? ['Converted', time(email.convertedAt)] : null,
    ]),
    headers.length
      ? h('div', { class: 'headers' }, h('h3', {}, 'Headers'),
        definitionList(headers.map(([name, value]) => [name, h('code', { class: 'wrap' }, String(value))])))
      : null,
    transitionsList(email.transitions),
    emailPreview(email),
    textVersion(email),
  );
}

function reviewerName() {
  return (sessionStorage.getItem(REVIEWER_KEY) || '').trim();
}

/* ---------- Overview ---------- */

async function renderOverview(ctx) {
  const root = h('section', { class: 'page', testid: 'overview' });
  async function load(refresh) {
    const stats = await api('GET', `/api/stats${refresh ? '?refresh=true' : ''}`);
    fill(root, overviewContent(stats, load));
  }
  await load(false);
  ctx.mount(root);
}

function overviewContent(stats, load) {
  const clients = stats.clients || {};
  const emails = stats.emails || {};
  const byStatus = emails.byStatus || {};
  const conversion = stats.conversion || {};
  const emailed = conversion.emailed || {};
  const heldOut = conversion.heldOut || {};
  const errorSlot = h('div');
  const refresh = h('button', { type: 'button', testid: 'refresh', onclick: onRefresh }, 'Refresh');

  async function onRefresh() {
    clearErrors(errorSlot);
    await withBusy(refresh, async () => {
      try {
        await load(true);
        notify('Figures recomputed.', 'success');
      } catch (error) {
        showError(errorSlot, error);
      }
    });
  }

  return [
    pageHeader('Overview', freshness(stats), refresh),
    errorSlot,
    h('div', { class: 'tiles' },
      tile('Clients', formatNumber(clients.total), null, 'tile-clients', '#/clients'),
      tile('Pending review', formatNumber(byStatus.PENDING_REVIEW ?? 0), null, 'tile-pending', '#/review'),
      tile('Sent', formatNumber(byStatus.SENT ?? 0), `of ${formatNumber(emails.total ?? 0)} emails`, 'tile-sent', '#/outbox'),
      tile('Conversion, emailed', formatRate(emailed.rate),
        `held out ${formatRate(heldOut.rate)} \u00b7 lift ${formatLift(conversion.lift)}`, 'tile-conversion'),
    ),
    h('div', { class: 'panels' },
      h('section', { class: 'card' }, h('h2', {}, 'Clients per band'), bandChart(clients.byBand || {})),
      h('section', { class: 'card' }, h('h2', {}, 'Emails per status'),
        barTable(byStatus, (key) => label(STATUS_LABELS, key), 'Status', 'status-chart')),
      h('section', { class: 'card' }, h('h2', {}, 'Decisions by reason'),
        barTable((stats.decisions || {}).byReason || {}, (key) => label(REASON_LABELS, key), 'Reason', 'reason-chart')),
      h('section', { class: 'card' }, h('h2', {}, 'Conversion'), conversionTable(conversion)),
    ),
  ];
}

/** "as of 12 s ago", kept current while it is on screen. */
function freshness(stats) {
  const shownAt = Date.now();
  const age = typeof stats.ageSeconds === 'number' ? stats.ageSeconds : null;
  const text = h('span', { class: 'muted', testid: 'stats-age', title: stats.computedAt ? formatDate(stats.computedAt) : null });
  function update() {
    const seconds = age === null ? (Date.now() - (parseDate(stats.computedAt) || new Date()).getTime()) / 1000
      : age + (Date.now() - shownAt) / 1000;
    text.textContent = `as of ${formatAge(seconds)} ago`;
  }
  update();
  const timer = setInterval(() => (text.isConnected ? update() : clearInterval(timer)), 5000);
  return text;
}

function tile(title, value, note, testid, href) {
  const body = [h('span', { class: 'tile-title' }, title), h('span', { class: 'tile-value' }, value),
    note ? h('span', { class: 'tile-note' }, note) : null];
  return href ? h('a', { class: 'tile', href, testid }, body) : h('div', { class: 'tile', testid }, body);
}

function bandChart(byBand) {
  const bands = BANDS.concat(byBand.unknown ? ['unknown'] : []);
  const counts = bands.map((band) => (typeof byBand[band] === 'number' ? byBand[band] : 0));
  const max = Math.max(1, ...counts);
  const slot = 100;
  const barWidth = 56;
  const top = 26;
  const bottom = 30;
  const height = 220;
  const plot = height - top - bottom;
  const summary = bands.map((band, i) => `${BAND_LABELS[band]} ${counts[i]}`).join(', ');
  return svg('svg', {
    class: 'band-chart', viewBox: `0 0 ${slot * bands.length} ${height}`, role: 'img',
    'aria-label': `Clients per band: ${summary}`, testid: 'band-chart',
  },
  svg('line', { x1: 0, x2: slot * bands.length, y1: top + plot, y2: top + plot, class: 'axis' }),
  bands.map((band, i) => {
    const barHeight = counts[i] ? Math.max(2, (counts[i] / max) * plot) : 0;
    const x = i * slot + (slot - barWidth) / 2;
    const y = top + plot - barHeight;
    return svg('g', { 'data-testid': 'band-bar', 'data-band': band },
      svg('rect', { x, y, width: barWidth, height: barHeight, rx: 3, fill: BAND_COLOURS[band] }),
      svg('text', { x: x + barWidth / 2, y: y - 8, 'text-anchor': 'middle', class: 'bar-count' }, String(counts[i])),
      svg('text', { x: x + barWidth / 2, y: height - 10, 'text-anchor': 'middle', class: 'bar-label' }, BAND_LABELS[band]),
    );
  }));
}

function barTable(counts, name, heading, testid) {
  const entries = Object.entries(counts).filter(([, n]) => typeof n === 'number');
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return h('table', { class: 'bar-table', testid },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, heading), h('th', { scope: 'col', class: 'num' }, 'Count'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Share')))),
    h('tbody', {}, entries.map(([key, n]) => h('tr', { class: n ? null : 'zero' },
      h('th', { scope: 'row' }, name(key)),
      h('td', { class: 'num' }, formatNumber(n)),
      h('td', { class: 'bar-cell', 'aria-hidden': 'true' }, h('span', { class: 'bar', style: { width: `${(n / max) * 100}%` } })),
    ))),
  );
}

function conversionTable(conversion) {
  const row = (title, group) => h('tr', {},
    h('th', { scope: 'row' }, title),
    h('td', { class: 'num' }, formatNumber((group || {}).count)),
    h('td', { class: 'num' }, formatNumber((group || {}).converted)),
    h('td', { class: 'num' }, formatRate((group || {}).rate)));
  return h('div', {},
    h('table', { class: 'data compact', testid: 'conversion-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Group'), h('th', { scope: 'col', class: 'num' }, 'Clients'),
        h('th', { scope: 'col', class: 'num' }, 'Converted'), h('th', { scope: 'col', class: 'num' }, 'Rate'))),
      h('tbody', {}, row('Emailed', conversion.emailed), row('Held out', conversion.heldOut))),
    h('p', {}, 'Lift: ', h('strong', {}, formatLift(conversion.lift)),
      typeof conversion.lift === 'number' ? null : h('span', { class: 'muted' }, ' (needs converted clients in both groups)')),
  );
}

/* ---------- Clients ---------- */

const clientList = { band: '', q: '', cursor: null, previous: [] }; // kept while the tab lives

const CLIENT_FIELDS = [
  { name: 'userId', label: 'Client id', hint: 'optional; one is made if empty', createOnly: true },
  { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off' },
  { name: 'name', label: 'Name', required: true, autocomplete: 'off' },
  { name: 'lastOrderDate', label: 'Last order', type: 'datetime-local', clearsTo: null },
  { name: 'orderCount', label: 'Orders', type: 'number', min: 0, step: 1, integer: true },
  { name: 'averageOrderValue', label: 'Average order value', type: 'number', min: 0, step: 0.01, numeric: true },
  { name: 'preferredCategories', label: 'Preferred categories', hint: 'comma-separated', list: true, clearsTo: [] },
  { name: 'engagementScore', label: 'Score override', type: 'number', min: 0, max: 100, step: 'any', numeric: true,
    hint: 'empty: the computed score is used', clearsTo: null },
  { name: 'timezone', label: 'Time zone', hint: 'IANA name, e.g. Europe/London', datalist: 'timezones', clearsTo: null },
];

async function renderClients(ctx, rest) {
  if (rest.length) {
    await renderClientDetail(ctx, rest[0]);
    return;
  }
  const state = clientList;
  const errorSlot = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'data stack', testid: 'clients-table' },
    h('caption', { class: 'visually-hidden' }, 'Clients'),
    h('thead', {}, h('tr', {}, ['Name', 'Email', 'Band', 'Score', 'Orders', 'Last order', 'Flags']
      .map((title) => h('th', { scope: 'col', class: ['Score', 'Orders'].includes(title) ? 'num' : null }, title)))),
    tbody);
  const pages = pager(state, load);
  let loadSerial = 0;

  const bandSelect = h('select', { id: 'band-filter', name: 'band', testid: 'band-filter', onchange: onFilterChange },
    h('option', { value: '' }, 'All bands'),
    BANDS.map((band) => h('option', { value: band, selected: state.band === band }, BAND_LABELS[band])));
  const search = h('input', {
    id: 'client-search', name: 'q', type: 'search', testid: 'client-search', value: state.q,
    placeholder: 'Name or email prefix', autocomplete: 'off', spellcheck: 'false', oninput: debounce(onFilterChange, SEARCH_DELAY_MS),
  });

  function onFilterChange() {
    const q = search.value.trim();
    if (bandSelect.value === state.band && q === state.q) return;
    state.band = bandSelect.value;
    state.q = q;
    state.cursor = null;
    state.previous = [];
    load();
  }

  async function load() {
    loadSerial += 1;
    const serial = loadSerial;
    table.setAttribute('aria-busy', 'true');
    clearErrors(errorSlot);
    try {
      const page = await api('GET', `/api/users${query({ limit: PAGE_SIZE, cursor: state.cursor, band: state.band, q: state.q })}`);
      if (serial !== loadSerial) return; // a newer search has been typed meanwhile
      const items = Array.isArray(page.items) ? page.items : [];
      tbody.replaceChildren(...(items.length ? items.map(clientRow) : [emptyRow(7, page.nextCursor
        ? 'No matching clients on this page; try the next page.' : 'No clients match.')]));
      labelCells(table);
      pages.update(page.nextCursor);
    } catch (error) {
      if (serial === loadSerial) showLoadError(errorSlot, error, load);
    } finally {
      if (serial === loadSerial) table.removeAttribute('aria-busy');
    }
  }

  const root = h('section', { class: 'page', testid: 'clients' },
    pageHeader('Clients'),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: 'band-filter' }, 'Band'), bandSelect),
      h('div', { class: 'field grow' }, h('label', { for: 'client-search' }, 'Search'), search)),
    errorSlot,
    h('div', { class: 'table-wrap' }, table),
    pages.element,
    h('section', { class: 'card' }, h('h2', { id: 'add-client-title' }, 'Add a client'), clientForm(null, onCreated)));

  function onCreated(client) {
    notify(`Client ${client.name || client.userId} added.`, 'success');
    location.hash = clientHref(client.userId);
  }

  await load();
  ctx.mount(root);
}

function clientRow(client) {
  const hasId = typeof client.userId === 'string' && client.userId !== '';
  const name = client.name ? String(client.name) : hasId ? client.userId : '(no id)';
  return h('tr', { testid: 'client-row', class: client.problem ? 'has-problem' : null, 'data-user-id': hasId ? client.userId : null },
    h('td', {}, hasId ? h('a', { href: clientHref(client.userId) }, name) : name),
    h('td', { class: 'wrap' }, client.email != null ? String(client.email) : '\u2014'),
    h('td', {}, client.score ? bandBadge(client.score.band) : bandBadge(null)),
    h('td', { class: 'num' }, scoreText(client.score),
      client.score && client.score.source === 'provided' ? h('span', { class: 'muted', title: 'set by engagementScore' }, ' (set)') : null),
    h('td', { class: 'num' }, formatNumber(client.orderCount)),
    h('td', {}, time(client.lastOrderDate, { dateOnly: true })),
    h('td', {}, clientFlags(client)));
}

/** On a phone the table collapses into one card per row: each cell is labelled with its column's header. */
function labelCells(table) {
  const headers = [...table.tHead.rows[0].cells].map((cell) => cell.textContent);
  for (const row of table.tBodies[0].rows) {
    if (row.cells.length !== headers.length) continue; // an empty-state or detail row spans the table
    [...row.cells].forEach((cell, i) => cell.setAttribute('data-label', headers[i]));
  }
}

function emptyRow(columns, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function ensureTimezoneList() {
  if ($('timezones') || typeof Intl.supportedValuesOf !== 'function') return;
  document.body.append(h('datalist', { id: 'timezones' },
    Intl.supportedValuesOf('timeZone').map((zone) => h('option', { value: zone }))));
}

function clientFieldValue(client, field) {
  const value = client ? client[field.name] : undefined;
  if (value === undefined || value === null) return '';
  if (field.type === 'datetime-local') return toLocalInput(value);
  if (field.list) return Array.isArray(value) ? value.join(', ') : String(value);
  return String(value);
}

function clientApiValue(field, raw) {
  if (field.type === 'datetime-local') return fromLocalInput(raw);
  if (field.integer) return Number.parseInt(raw, 10);
  if (field.numeric) return Number(raw);
  if (field.list) return raw.split(',').map((part) => part.trim()).filter(Boolean);
  return raw;
}

/** The add form (client null: POST) or the edit form (PATCH of the changed fields). */
function clientForm(client, onSaved) {
  ensureTimezoneList();
  const editing = Boolean(client);
  const fields = CLIENT_FIELDS.filter((field) => !(editing && field.createOnly));
  const errorSlot = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, editing ? 'Save changes' : 'Add client');
  const form = h('form', { class: 'form-grid', testid: editing ? 'client-edit-form' : 'client-form', onsubmit: onSubmit },
    fields.map((field) => formField(field, clientFieldValue(client, field))),
    h('div', { class: 'form-actions' }, submit),
    errorSlot);
  const initial = new Map(fields.map((field) => [field.name, form.elements.namedItem(field.name).value.trim()]));

  function readBody() {
    const body = {};
    for (const field of fields) {
      const raw = form.elements.namedItem(field.name).value.trim();
      if (editing && raw === initial.get(field.name)) continue;
      if (raw !== '') body[field.name] = clientApiValue(field, raw);
      else if (editing && 'clearsTo' in field) body[field.name] = field.clearsTo;
    }
    return body;
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(errorSlot, form);
    const body = readBody();
    if (editing && !Object.keys(body).length) {
      notify('Nothing changed.', 'info');
      return;
    }
    await withBusy(submit, async () => {
      try {
        const saved = editing
          ? await api('PATCH', `/api/users/${enc(client.userId)}`, body)
          : await api('POST', '/api/users', body);
        if (!editing) form.reset();
        onSaved(saved);
      } catch (error) {
        showError(errorSlot, error, form);
      }
    });
  }
  return form;
}

function formField(field, value) {
  const id = uniqueId(field.name);
  const hintId = field.hint ? `${id}-hint` : null;
  const control = h('input', {
    id, name: field.name, type: field.type || 'text', value, required: field.required || null,
    min: field.min, max: field.max, step: field.step, list: field.datalist, autocomplete: field.autocomplete,
    'aria-describedby': hintId, inputmode: field.integer ? 'numeric' : field.numeric ? 'decimal' : null,
  });
  return h('div', { class: 'field' },
    h('label', { for: id }, field.label, field.required ? h('span', { 'aria-hidden': 'true', class: 'required' }, ' *') : null),
    control,
    field.hint ? h('small', { id: hintId, class: 'hint' }, field.hint) : null);
}

/* ---------- Client detail ---------- */

async function renderClientDetail(ctx, userId) {
  const root = h('section', { class: 'page', testid: 'client-detail' });
  const orderSection = orderForm(userId, refresh);
  const emailsSection = h('section', { class: 'card' }, h('h2', {}, 'Emails'), h('p', { class: 'loading' }, 'Loading\u2026'));

  async function refresh() {
    const client = await api('GET', `/api/users/${enc(userId)}`);
    draw(client);
    loadClientEmails(userId, client, emailsSection);
    return client;
  }

  function draw(client) {
    document.title = `${client.name || userId} \u00b7 Win-back console`;
    fill(root,
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/clients' }, '\u2190 Clients')),
      pageHeader(client.name ? String(client.name) : userId, client.score ? bandBadge(client.score.band) : null),
      client.problem ? h('div', { class: 'warning-box', role: 'note', testid: 'problem' },
        h('strong', {}, '\u26a0 This item breaks the data contract: '), String(client.problem),
        h('p', {}, 'It has no score and the pipeline skips it until it is fixed.')) : null,
      h('div', { class: 'detail-grid' },
        h('div', { class: 'column' },
          h('section', { class: 'card' }, h('h2', {}, 'Details'), clientFields(client)),
          client.score ? scoreSection(client.score) : null,
          h('section', { class: 'card' }, h('h2', {}, 'Edit'), clientForm(client, onSaved)),
          deleteSection(client)),
        h('div', { class: 'column' },
          orderSection,
          timelineSection(client),
          emailsSection)),
    );
  }

  function onSaved(client) {
    notify('Changes saved.', 'success');
    refresh().catch((error) => showError(null, error));
    return client;
  }

  await refresh();
  ctx.mount(root);
}

function clientFields(client) {
  const categories = Array.isArray(client.preferredCategories) ? client.preferredCategories.join(', ') : client.preferredCategories;
  return definitionList([
    ['Client id', h('code', {}, String(client.userId))],
    ['Email', client.email != null ? String(client.email) : '\u2014'],
    ['Orders', formatNumber(client.orderCount)],
    ['Average order value', formatNumber(client.averageOrderValue, moneyFormat)],
    ['Last order', time(client.lastOrderDate)],
    ['Preferred categories', categories ? String(categories) : '\u2014'],
    ['Time zone', client.timezone ? String(client.timezone) : '\u2014'],
    ['Consent', client.optedOut === true ? 'Opted out' : 'Subscribed'],
    ['Address', client.suppressed === true ? 'Suppressed (bounced or complained)' : 'Deliverable'],
    ['Last emailed', time(client.lastEmailDate)],
    ['Created', time(client.createdAt)],
    ['Updated', time(client.updatedAt)],
  ]);
}

function scoreSection(score) {
  const source = score.source === 'provided'
    ? `Set by an override; the model gives ${formatNumber(score.computedValue, scoreFormat)}.`
    : 'Computed by the model.';
  const factors = Array.isArray(score.breakdown) ? score.breakdown : [];
  return h('section', { class: 'card', testid: 'score' },
    h('h2', {}, 'Score'),
    h('p', { class: 'score-line' }, h('span', { class: 'score-value' }, scoreText(score)), ' ', bandBadge(score.band)),
    h('p', { class: 'muted' }, source),
    factors.length ? h('ul', { class: 'breakdown', testid: 'score-breakdown' }, factors.map(factorItem)) : null);
}

function factorItem(factor) {
  const max = typeof factor.maxPoints === 'number' && factor.maxPoints > 0 ? factor.maxPoints : 1;
  const points = typeof factor.points === 'number' ? factor.points : 0;
  const share = Math.min(100, Math.max(0, (points / max) * 100));
  return h('li', {},
    h('div', { class: 'factor-head' },
      h('strong', {}, label(FACTOR_LABELS, factor.factor)),
      h('span', {}, `${formatNumber(points, scoreFormat)} of ${formatNumber(factor.maxPoints, scoreFormat)} points`)),
    h('span', { class: 'meter', 'aria-hidden': 'true' }, h('span', { class: 'meter-fill', style: { width: `${share}%` } })),
    h('span', { class: 'muted' }, factor.explanation ? String(factor.explanation) : ''));
}

/** The timeline; from the older detail shape (recentDecisions, recentEmails) when there is none. */
function timelineOf(client) {
  if (Array.isArray(client.timeline)) return client.timeline;
  const decisions = (client.recentDecisions || []).map((d) => ({ ...d, kind: 'decision', at: d.decidedAt }));
  const emails = (client.recentEmails || []).flatMap((email) => (email.transitions || []).map((step) => ({
    ...step, kind: 'email', emailId: email.emailId, subject: email.subject,
  })));
  return [...decisions, ...emails].sort((a, b) => String(b.at).localeCompare(String(a.at)));
}

function timelineSection(client) {
  const entries = timelineOf(client);
  return h('section', { class: 'card' },
    h('h2', {}, 'Timeline'),
    entries.length
      ? h('ol', { class: 'timeline', testid: 'timeline' }, entries.map(timelineEntry))
      : h('p', { class: 'muted' }, 'Nothing has happened to this client yet.'));
}

function timelineEntry(entry) {
  if (entry.kind === 'decision') {
    const facts = [entry.eventType, typeof entry.score === 'number' ? `score ${scoreFormat.format(entry.score)}` : null,
      entry.band ? label(BAND_LABELS, entry.band) : null].filter(Boolean).join(' \u00b7 ');
    return h('li', { class: 'timeline-decision', 'data-kind': 'decision' },
      time(entry.at),
      h('div', {}, h('strong', {}, 'Decision: '), label(REASON_LABELS, entry.reason), entry.send ? ' \u2014 send' : ' \u2014 skip'),
      facts ? h('div', { class: 'muted' }, facts) : null,
      entry.emailId ? h('div', { class: 'muted' }, 'Email ', h('code', {}, String(entry.emailId))) : null);
  }
  if (entry.kind === 'email') {
    return h('li', { class: 'timeline-email', 'data-kind': 'email' },
      time(entry.at),
      h('div', {}, h('strong', {}, 'Email: '), entry.subject ? `\u201c${entry.subject}\u201d ` : '',
        entry.fromStatus ? label(STATUS_LABELS, entry.fromStatus) : 'created', ' \u2192 ', label(STATUS_LABELS, entry.toStatus)),
      h('div', { class: 'muted' }, entry.by ? `by ${entry.by}` : '', entry.reason ? ` \u00b7 ${entry.reason}` : ''));
  }
  return h('li', {}, time(entry.at), h('div', {}, String(entry.kind || 'event')));
}

function orderForm(userId, refresh) {
  const amountId = uniqueId('amount');
  const dateId = uniqueId('ordered-at');
  const errorSlot = h('div');
  const result = h('div', { class: 'result', testid: 'order-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Record order');
  const form = h('form', { class: 'form-grid', testid: 'order-form', onsubmit: onSubmit },
    h('div', { class: 'field' }, h('label', { for: amountId }, 'Amount'),
      h('input', { id: amountId, name: 'amount', type: 'number', min: 0, step: 0.01, required: true, inputmode: 'decimal' })),
    h('div', { class: 'field' }, h('label', { for: dateId }, 'Ordered at'),
      h('input', { id: dateId, name: 'orderedAt', type: 'datetime-local', 'aria-describedby': `${dateId}-hint` }),
      h('small', { id: `${dateId}-hint`, class: 'hint' }, 'empty: now')),
    h('div', { class: 'form-actions' }, submit),
    errorSlot);

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(errorSlot, form);
    result.replaceChildren();
    const body = { amount: Number(form.elements.namedItem('amount').value) };
    const orderedAt = form.elements.namedItem('orderedAt').value;
    if (orderedAt) body.orderedAt = fromLocalInput(orderedAt);
    await withBusy(submit, async () => {
      try {
        const outcome = await api('POST', `/api/users/${enc(userId)}/orders`, body);
        const text = attributionText(outcome.attributedTo);
        form.reset();
        result.replaceChildren(h('p', {}, text));
        notify(`Order recorded. ${text}`, 'success');
        await refresh();
      } catch (error) {
        showError(errorSlot, error, form);
      }
    });
  }
  return h('section', { class: 'card' }, h('h2', {}, 'Record an order'), form, result);
}

function attributionText(attributedTo) {
  if (attributedTo === 'holdout') return 'It counts for the holdout: the client was held out, not emailed.';
  if (attributedTo) return `It converts email ${attributedTo}.`;
  return 'It converts nothing: no email or holdout decision within the conversion window.';
}

function deleteSection(client) {
  const button = h('button', { type: 'button', class: 'danger', testid: 'delete-client', onclick: onDelete }, 'Delete client');
  const errorSlot = h('div');
  async function onDelete() {
    const name = client.name ? `${client.name} (${client.userId})` : client.userId;
    if (!window.confirm(`Delete client ${name}? Their pending drafts are cancelled. This cannot be undone.`)) return;
    await withBusy(button, async () => {
      try {
        await api('DELETE', `/api/users/${enc(client.userId)}`);
        notify(`Client ${name} deleted.`, 'success');
        location.hash = '#/clients';
      } catch (error) {
        showError(errorSlot, error);
      }
    });
  }
  return h('section', { class: 'card danger-zone' }, h('h2', {}, 'Delete'), button, errorSlot);
}

async function loadClientEmails(userId, client, section) {
  const heading = section.firstChild;
  try {
    const page = await api('GET', `/api/users/${enc(userId)}/emails?limit=10`);
    section.replaceChildren(heading, emailList(page.items || []));
  } catch (error) {
    if (Array.isArray(client.recentEmails)) section.replaceChildren(heading, emailList(client.recentEmails));
    else section.replaceChildren(heading, errorBox(error));
  }
}

function emailList(emails) {
  if (!emails.length) return h('p', { class: 'muted' }, 'No emails yet.');
  return h('ul', { class: 'email-list', testid: 'client-emails' }, emails.map((email) => h('li', {},
    h('details', { ontoggle: (event) => fillEmailDetails(event.currentTarget, email) },
      h('summary', {}, statusBadge(email.status), ' ', String(email.subject || '(no subject)'), ' \u00b7 ', time(email.createdAt))),
    email.status === 'PENDING_REVIEW' ? h('a', { href: `#/review/${enc(email.emailId)}` }, 'Review it') : null)));
}

/** Fill a <details> with an email when it is first opened (fetching its HTML if the list left it out). */
async function fillEmailDetails(details, email) {
  if (!details.open || details.dataset.filled) return;
  details.dataset.filled = 'true';
  let full = email;
  if (typeof email.content !== 'string') {
    try {
      full = await api('GET', `/api/emails/${enc(email.emailId)}`);
    } catch (error) {
      details.append(errorBox(error));
      return;
    }
  }
  details.append(emailDetails(full));
}

/* ---------- Review queue ---------- */

const review = { items: [], nextCursor: null, selectedId: null };

async function renderReview(ctx, rest) {
  const listEl = h('ul', { class: 'review-list', 'aria-label': 'Emails waiting for review' });
  const moreButton = h('button', { type: 'button', class: 'more', hidden: true, onclick: onMore }, 'Load more');
  const pane = h('div', { class: 'review-pane', testid: 'review-pane' });
  const count = h('span', { class: 'muted', testid: 'review-count' });
  const help = shortcutHelp();
  const reviewerInput = h('input', {
    id: 'reviewer', name: 'reviewer', type: 'text', testid: 'reviewer', value: reviewerName(),
    maxlength: 100, placeholder: 'operator', autocomplete: 'off', oninput: onReviewerInput,
  });
  let busy = false;
  let editing = null; // the edit form, while it is open

  const root = h('section', { class: 'page', testid: 'review' },
    pageHeader('Review queue', count),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'reviewer' }, 'Reviewer'), reviewerInput),
      h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': 'shortcut-help', onclick: toggleHelp },
        'Keyboard shortcuts (?)')),
    help,
    h('div', { class: 'review-layout' },
      h('div', { class: 'review-side' }, listEl, moreButton),
      pane));

  function onReviewerInput() {
    sessionStorage.setItem(REVIEWER_KEY, reviewerInput.value.trim());
  }

  function reviewBody(extra) {
    const name = reviewerName();
    return name ? { reviewer: name, ...extra } : { ...extra };
  }

  async function loadList(preferredId) {
    const page = await api('GET', `/api/emails${query({ status: 'PENDING_REVIEW', limit: REVIEW_PAGE_SIZE })}`);
    review.items = Array.isArray(page.items) ? page.items : [];
    review.nextCursor = page.nextCursor || null;
    const keep = [preferredId, review.selectedId].find((id) => id && review.items.some((e) => e.emailId === id));
    drawList();
    if (keep) await select(keep, { focus: false });
    else if (review.items.length) await select(review.items[0].emailId, { focus: false });
    else drawPane(null);
  }

  async function onMore() {
    await withBusy(moreButton, async () => {
      try {
        const page = await api('GET', `/api/emails${query({ status: 'PENDING_REVIEW', limit: REVIEW_PAGE_SIZE, cursor: review.nextCursor })}`);
        const known = new Set(review.items.map((e) => e.emailId));
        review.items.push(...(page.items || []).filter((e) => !known.has(e.emailId)));
        review.nextCursor = page.nextCursor || null;
        drawList();
      } catch (error) {
        showError(null, error);
      }
    });
  }

  function drawList() {
    count.textContent = `${review.items.length}${review.nextCursor ? '+' : ''} waiting`;
    moreButton.hidden = !review.nextCursor;
    listEl.replaceChildren(...(review.items.length ? review.items.map(listItem)
      : [h('li', { class: 'muted empty' }, 'Nothing to review.')]));
  }

  function listItem(email) {
    const current = email.emailId === review.selectedId;
    return h('li', {},
      h('button', {
        type: 'button', class: 'review-item', testid: 'review-item', 'data-email-id': email.emailId,
        'aria-current': current ? 'true' : null, onclick: () => select(email.emailId, { focus: false }),
      },
      h('span', { class: 'review-subject' }, String(email.subject || '(no subject)')),
      h('span', { class: 'muted' }, String(email.recipient || email.userId || '')),
      h('span', { class: 'review-meta' }, formatDate(email.createdAt), ' \u00b7 ', String(email.writer || ''),
        Array.isArray(email.guardrailViolations) && email.guardrailViolations.length ? ' \u00b7 \u26a0 guardrails' : '')));
  }

  async function select(emailId, { focus = true } = {}) {
    review.selectedId = emailId;
    editing = null;
    for (const button of listEl.querySelectorAll('.review-item')) {
      if (button.dataset.emailId === emailId) {
        button.setAttribute('aria-current', 'true');
        button.scrollIntoView({ block: 'nearest' });
        if (focus) button.focus();
      } else {
        button.removeAttribute('aria-current');
      }
    }
    let email = review.items.find((e) => e.emailId === emailId);
    if (!email || typeof email.content !== 'string') {
      try {
        email = await api('GET', `/api/emails/${enc(emailId)}`);
      } catch (error) {
        pane.replaceChildren(errorBox(error));
        return;
      }
    }
    if (review.selectedId === emailId) drawPane(email);
  }

  function selected() {
    return review.items.find((e) => e.emailId === review.selectedId) || pane.email || null;
  }

  function drawPane(email) {
    pane.email = email;
    if (!email) {
      pane.replaceChildren(h('p', { class: 'muted empty-pane' }, 'No email selected. Drafts waiting for review appear on the left.'));
      return;
    }
    const pending = email.status === 'PENDING_REVIEW';
    const violations = Array.isArray(email.guardrailViolations) ? email.guardrailViolations : [];
    const actionError = h('div', { class: 'action-error' });
    const canEdit = pending && email.body && typeof email.body === 'object';
    pane.actionError = actionError;
    pane.replaceChildren(h('article', { class: 'email-view', 'aria-labelledby': 'email-subject' },
      h('h2', { id: 'email-subject' }, String(email.subject || '(no subject)')),
      email.preheader ? h('p', { class: 'preheader' }, String(email.preheader)) : null,
      definitionList([
        ['To', String(email.recipient || '\u2014')],
        ['Client', h('a', { href: clientHref(email.userId) }, String(email.userId))],
        ['Status', statusBadge(email.status)],
        ['Drafted', time(email.createdAt)],
        ['Writer', [String(email.writer || '\u2014'), email.model ? ` \u00b7 ${email.model}` : '', email.promptVersion ? ` \u00b7 ${email.promptVersion}` : '']],
        email.fallbackReason ? ['Fallback reason', String(email.fallbackReason)] : null,
        typeof email.engagementScoreAtTime === 'number'
          ? ['Score when drafted', [scoreFormat.format(email.engagementScoreAtTime), ' ', bandBadge(email.bandAtTime)]] : null,
      ]),
      violations.length ? h('div', { class: 'warning-box', testid: 'guardrail-violations' },
        h('strong', {}, 'Guardrail violations'), h('ul', {}, violations.map((v) => h('li', {}, String(v))))) : null,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', testid: 'approve', disabled: !pending, onclick: () => decide('approve') },
          'Approve', h('kbd', {}, 'a')),
        h('button', { type: 'button', class: 'danger', testid: 'reject', disabled: !pending, onclick: () => decide('reject') },
          'Reject', h('kbd', {}, 'r')),
        h('button', { type: 'button', testid: 'edit', disabled: !canEdit, onclick: openEdit }, 'Edit', h('kbd', {}, 'e')),
        pending && !canEdit ? h('span', { class: 'muted' }, 'This draft predates editing; it cannot be edited.') : null),
      actionError,
      h('div', { class: 'edit-slot' }),
      emailPreview(email),
      textVersion(email),
      transitionsList(email.transitions)));
  }

  async function decide(kind) {
    const email = selected();
    if (!email || busy || email.status !== 'PENDING_REVIEW') return;
    const extra = {};
    if (kind === 'reject') {
      const reason = window.prompt(`Reject \u201c${email.subject || email.emailId}\u201d? Reason (optional):`, '');
      if (reason === null) return;
      if (reason.trim()) extra.reason = reason.trim();
    }
    const index = review.items.findIndex((e) => e.emailId === email.emailId);
    const neighbour = review.items[index + 1] || review.items[index - 1] || null;
    busy = true;
    setActionsDisabled(true);
    try {
      const result = await api('POST', `/api/emails/${enc(email.emailId)}/${kind}`, reviewBody({ ...extra, version: email.version }));
      notify(outcomeText(kind, result), 'success');
      review.selectedId = null;
      await loadList(neighbour && neighbour.emailId);
    } catch (error) {
      const failed = new ApiError(error.status, `Could not ${kind} \u201c${email.subject || email.emailId}\u201d: ${error.message}`, error.errors);
      if (error.status === 409 || error.status === 404) { // it moved (or went) meanwhile: show the queue as it is now
        review.selectedId = null;
        await loadList(neighbour && neighbour.emailId).catch(() => {});
        if (error.status === 409) await select(email.emailId, { focus: false }); // where it went, read-only
      }
      showError(pane.actionError, failed);
    } finally {
      busy = false;
      setActionsDisabled(false);
      keepFocusInQueue();
    }
  }

  /** The button that had the focus is gone after a decision: give it to the selected email in the list. */
  function keepFocusInQueue() {
    if (root.isConnected && !root.contains(document.activeElement)) {
      const current = listEl.querySelector('[aria-current="true"]');
      if (current) current.focus({ preventScroll: true });
    }
  }

  function setActionsDisabled(disabled) {
    const email = pane.email;
    const pending = email && email.status === 'PENDING_REVIEW';
    for (const button of pane.querySelectorAll('.actions button')) {
      button.disabled = disabled || !pending || (button.dataset.testid === 'edit' && !(email && email.body));
    }
  }

  function openEdit() {
    const email = selected();
    const slot = pane.querySelector('.edit-slot');
    if (!email || !slot || !email.body || email.status !== 'PENDING_REVIEW') return;
    if (editing) {
      editing.querySelector('input, textarea').focus();
      return;
    }
    editing = editForm(email, onEdited, closeEdit);
    slot.replaceChildren(editing);
    editing.querySelector('input').focus();
  }

  function closeEdit() {
    editing = null;
    const slot = pane.querySelector('.edit-slot');
    if (slot) slot.replaceChildren();
  }

  function onEdited(updated) {
    editing = null;
    const index = review.items.findIndex((e) => e.emailId === updated.emailId);
    if (index >= 0) review.items[index] = updated;
    drawList();
    drawPane(updated);
    notify('Draft saved and re-rendered.', 'success');
  }

  function move(step) {
    if (!review.items.length) return;
    const index = review.items.findIndex((e) => e.emailId === review.selectedId);
    const next = Math.min(review.items.length - 1, Math.max(0, index + step));
    if (next !== index) select(review.items[next].emailId);
  }

  function toggleHelp() {
    help.hidden = !help.hidden;
    for (const button of root.querySelectorAll('[aria-controls="shortcut-help"]')) {
      button.setAttribute('aria-expanded', String(!help.hidden));
    }
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(event.target)) return;
    const actions = {
      j: () => move(1), k: () => move(-1), a: () => decide('approve'), r: () => decide('reject'),
      e: openEdit, '?': toggleHelp, Escape: () => { help.hidden = true; },
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }

  if (rest.length) review.selectedId = rest[0];
  await loadList(rest[0]);
  if (rest.length && review.selectedId !== rest[0]) await select(rest[0], { focus: false }); // not pending: shown read-only
  if (ctx.mount(root)) keyHandler = onKey;
}

function isTextField(target) {
  return target instanceof Element && Boolean(target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'));
}

function shortcutHelp() {
  const keys = [['j', 'next email'], ['k', 'previous email'], ['a', 'approve'], ['r', 'reject (asks for a reason)'],
    ['e', 'edit the draft'], ['?', 'show or hide this help'], ['Esc', 'close this help']];
  return h('div', { id: 'shortcut-help', class: 'card shortcut-help', testid: 'shortcut-help', hidden: true },
    h('h2', {}, 'Keyboard shortcuts'),
    h('p', { class: 'muted' }, 'When the focus is not in a text field.'),
    h('dl', { class: 'fields' }, keys.map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, what)])));
}

function outcomeText(kind, email) {
  const subject = `\u201c${email.subject || email.emailId}\u201d`;
  if (kind === 'reject') return `Rejected ${subject}.`;
  if (email.status === 'SENT') return `Approved and sent ${subject} to ${email.recipient}.`;
  if (email.status === 'SCHEDULED') return `Approved ${subject}: scheduled for ${formatDate(email.sendAt)} (the client's sending window).`;
  if (email.status === 'CANCELLED') {
    const last = Array.isArray(email.transitions) ? email.transitions[email.transitions.length - 1] : null;
    return `Approved ${subject}, but it was cancelled${last && last.reason ? `: ${last.reason}` : ''}.`;
  }
  return `Approved ${subject}: now ${label(STATUS_LABELS, email.status)}.`;
}

const EDIT_FIELDS = [
  { name: 'subject', label: 'Subject', from: (email) => email.subject },
  { name: 'preheader', label: 'Preheader', from: (email) => email.preheader },
  { name: 'greeting', label: 'Greeting', from: (email) => email.body.greeting },
  { name: 'paragraphs', label: 'Paragraphs', hint: 'a blank line between paragraphs', multiline: true,
    from: (email) => (email.body.paragraphs || []).join('\n\n') },
  { name: 'callToActionLabel', label: 'Call-to-action label', from: (email) => email.body.callToActionLabel },
  { name: 'signOff', label: 'Sign-off', from: (email) => email.body.signOff },
];

function editForm(email, onSaved, onCancel) {
  const errorSlot = h('div');
  const save = h('button', { type: 'submit', class: 'primary', testid: 'save' }, 'Save');
  const form = h('form', { class: 'edit-form', testid: 'edit-form', onsubmit: onSubmit, onkeydown: onKeyDown },
    h('h3', {}, 'Edit the draft'),
    EDIT_FIELDS.map(editField),
    h('div', { class: 'form-actions' }, save, h('button', { type: 'button', onclick: onCancel }, 'Cancel')),
    errorSlot);

  function editField(field) {
    const id = uniqueId(`edit-${field.name}`);
    const value = String(field.from(email) ?? '');
    const control = field.multiline
      ? h('textarea', { id, name: field.name, rows: 10, 'aria-describedby': `${id}-hint` }, value)
      : h('input', { id, name: field.name, type: 'text', value });
    return h('div', { class: 'field' }, h('label', { for: id }, field.label), control,
      field.hint ? h('small', { id: `${id}-hint`, class: 'hint' }, field.hint) : null);
  }

  function readChanges() {
    const changes = {};
    for (const field of EDIT_FIELDS) {
      const control = form.elements.namedItem(field.name);
      if (control.value === String(field.from(email) ?? '')) continue;
      changes[field.name] = field.multiline
        ? control.value.split(/\n[ \t]*\n/).map((part) => part.trim()).filter(Boolean)
        : control.value.trim();
    }
    return changes;
  }

  function onKeyDown(event) {
    if (event.key === 'Escape') {
      event.preventDefault();
      onCancel();
    }
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(errorSlot, form);
    const changes = readChanges();
    if (!Object.keys(changes).length) {
      onCancel();
      return;
    }
    const editor = reviewerName();
    if (editor) changes.editor = editor;
    changes.version = email.version;
    await withBusy(save, async () => {
      try {
        onSaved(await api('PATCH', `/api/emails/${enc(email.emailId)}`, changes));
      } catch (error) {
        showError(errorSlot, error, form);
      }
    });
  }
  return form;
}

/* ---------- Outbox ---------- */

const outboxList = { cursor: null, previous: [] };

async function renderOutbox(ctx) {
  const state = outboxList;
  const errorSlot = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'data stack', testid: 'outbox-table' },
    h('caption', { class: 'visually-hidden' }, 'Sent emails, newest first'),
    h('thead', {}, h('tr', {}, ['Subject', 'Recipient', 'Sent', 'Writer', 'Converted', 'Details']
      .map((title) => h('th', { scope: 'col' }, title)))),
    tbody);
  const pages = pager(state, load);

  async function load() {
    clearErrors(errorSlot);
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await api('GET', `/api/outbox${query({ limit: PAGE_SIZE, cursor: state.cursor })}`);
      const items = Array.isArray(page.items) ? page.items : [];
      tbody.replaceChildren(...(items.length ? items.flatMap(outboxRows) : [emptyRow(6, 'Nothing has been sent yet.')]));
      labelCells(table);
      pages.update(page.nextCursor);
    } catch (error) {
      showLoadError(errorSlot, error, load);
    } finally {
      table.removeAttribute('aria-busy');
    }
  }

  await load();
  ctx.mount(h('section', { class: 'page', testid: 'outbox' },
    pageHeader('Outbox'),
    h('p', { class: 'muted' }, 'Sent emails, newest first, with the headers they went out with.'),
    errorSlot,
    h('div', { class: 'table-wrap' }, table),
    pages.element));
}

function outboxRows(email) {
  const detailId = uniqueId('outbox-detail');
  const detail = h('tr', { id: detailId, class: 'detail-row', hidden: true }, h('td', { colspan: 6 }));
  const toggle = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false', 'aria-controls': detailId,
    testid: 'outbox-toggle', onclick: onToggle }, 'Show');

  function onToggle() {
    const open = detail.hidden;
    detail.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? 'Hide' : 'Show';
    if (open && !detail.firstChild.firstChild) detail.firstChild.append(emailDetails(email));
  }

  const row = h('tr', { testid: 'outbox-row', 'data-email-id': email.emailId },
    h('td', {}, String(email.subject || '(no subject)')),
    h('td', { class: 'wrap' }, String(email.recipient || '\u2014'), ' ',
      email.userId ? h('a', { href: clientHref(email.userId), class: 'muted' }, '(client)') : null),
    h('td', {}, time(email.sentAt)),
    h('td', {}, String(email.writer || '\u2014')),
    h('td', {}, email.convertedAt
      ? h('span', { class: 'flag flag-converted', testid: 'converted' }, '\u2713 Converted ', time(email.convertedAt, { dateOnly: true }))
      : h('span', { class: 'muted' }, '\u2014')),
    h('td', {}, toggle));
  return [row, detail];
}

/* ---------- Pipeline ---------- */

async function renderPipeline(ctx) {
  const root = h('section', { class: 'page', testid: 'pipeline' });
  const results = new Map(); // queue name: the last redrive's outcome, shown in its row

  async function load() {
    const pipeline = await api('GET', '/api/pipeline');
    fill(root, pipelineContent(pipeline));
  }

  function pipelineContent(pipeline) {
    const errorSlot = h('div');
    const refresh = h('button', { type: 'button', testid: 'refresh', onclick: onRefresh }, 'Refresh');
    const queues = Array.isArray(pipeline.queues) ? pipeline.queues : [];
    async function onRefresh() {
      clearErrors(errorSlot);
      await withBusy(refresh, () => load().catch((error) => showError(errorSlot, error)));
    }
    return [
      pageHeader('Pipeline', h('span', { class: 'muted' }, 'checked ', time(pipeline.checkedAt)), refresh),
      errorSlot,
      h('div', { class: 'table-wrap' }, queuesTable(queues)),
    ];
  }

  function queuesTable(queues) {
    const table = h('table', { class: 'data stack', testid: 'queues-table' },
      h('caption', { class: 'visually-hidden' }, 'Queues and dead-letter queues'),
      h('thead', {}, h('tr', {}, ['Queue', 'Kind', 'Waiting', 'In flight', 'Delayed', 'Oldest message', 'Action']
        .map((title, i) => h('th', { scope: 'col', class: i >= 2 && i <= 5 ? 'num' : null }, title)))),
      h('tbody', {}, queues.length ? queues.map(queueRow) : emptyRow(7, 'No queues reported.')));
    labelCells(table);
    return table;
  }

  function queueRow(queue) {
    const deadLetter = queue.kind === 'dead-letter';
    const alert = deadLetter && (queue.visible > 0 || queue.inFlight > 0 || queue.delayed > 0);
    return h('tr', { class: alert ? 'dlq-alert' : null, testid: 'queue-row', 'data-queue': queue.name },
      h('th', { scope: 'row' }, String(queue.name), alert ? h('span', { class: 'flag flag-problem' }, ' \u26a0 needs attention') : null),
      h('td', {}, deadLetter ? 'dead-letter' : String(queue.kind || 'queue')),
      h('td', { class: 'num' }, formatNumber(queue.visible)),
      h('td', { class: 'num' }, formatNumber(queue.inFlight)),
      h('td', { class: 'num' }, formatNumber(queue.delayed)),
      h('td', { class: 'num' }, queue.oldestAgeSeconds == null ? '\u2014' : formatAge(queue.oldestAgeSeconds)),
      h('td', {}, deadLetter ? redriveCell(queue) : null, results.has(queue.name) ? h('div', { class: 'result' }, results.get(queue.name)) : null));
  }

  function redriveCell(queue) {
    if (!queue.redrivesTo) return h('span', { class: 'muted' }, 'Cannot be redriven: fix the item and put it again.');
    const errorSlot = h('div');
    const button = h('button', { type: 'button', testid: `redrive-${queue.name}`, onclick: onRedrive }, `Redrive to ${queue.redrivesTo}`);
    async function onRedrive() {
      const waiting = formatNumber(queue.visible);
      if (!window.confirm(`Move up to ${REDRIVE_MAX} of the ${waiting} messages in ${queue.name} back to ${queue.redrivesTo}?`)) return;
      await withBusy(button, async () => {
        try {
          const outcome = await api('POST', `/api/pipeline/dead-letters/${enc(queue.name)}/redrive`, { max: REDRIVE_MAX });
          const text = `Moved ${formatNumber(outcome.moved)} to ${queue.redrivesTo}; ${formatNumber(outcome.remaining)} remaining.`;
          results.set(queue.name, text);
          notify(`${queue.name}: ${text}`, 'success');
          await load();
        } catch (error) {
          showError(errorSlot, error);
        }
      });
    }
    return h('div', {}, button, errorSlot);
  }

  await load();
  ctx.mount(root);
}

/* ---------- Start ---------- */

function start() {
  $('token-form').addEventListener('submit', onTokenSubmit);
  $('sign-out').addEventListener('click', onSignOutClick);
  window.addEventListener('hashchange', onHashChange);
  document.addEventListener('keydown', (event) => {
    if (keyHandler && !event.defaultPrevented) keyHandler(event);
  });
  route();
}

start();
