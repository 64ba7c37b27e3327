// What several pages show: headers, badges, pagers, an email's preview and details.

import { BAND_LABELS, REVIEWER_KEY, STATUS_LABELS } from './constants.js';
import { $, h } from './dom.js';
import { formatNumber, label, scoreFormat, time } from './format.js';

export function pageHeader(title, ...extra) {
  return h('div', { class: 'page-header' }, h('h1', {}, title), extra.length ? h('div', { class: 'page-tools' }, extra) : null);
}

export function bandBadge(band) {
  if (!band) return h('span', { class: 'muted' }, '\u2014');
  const known = band in BAND_LABELS ? band : 'unknown';
  return h('span', { class: `badge band band-${known}`, 'data-band': String(band) }, label(BAND_LABELS, band));
}

export function statusBadge(status) {
  const known = status in STATUS_LABELS ? status : 'UNKNOWN';
  return h('span', { class: `badge status status-${known}`, 'data-status': String(status) }, label(STATUS_LABELS, status));
}

export function scoreText(score) {
  if (!score || typeof score.value !== 'number') return '\u2014';
  return formatNumber(score.value, scoreFormat);
}

export function clientFlags(client) {
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
export function pager(state, load) {
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
export function emailPreview(email) {
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

export function textVersion(email) {
  if (!email.textContent) return null;
  return h('details', { class: 'text-version' }, h('summary', {}, 'Plain-text version'), h('pre', {}, String(email.textContent)));
}

export function transitionsList(transitions) {
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

export function definitionList(rows) {
  return h('dl', { class: 'fields' }, rows.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

/** Headers, status details, history and the preview of one email (outbox rows, a client's emails). */
export function emailDetails(email) {
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

export function reviewerName() {
  return (sessionStorage.getItem(REVIEWER_KEY) || '').trim();
}
