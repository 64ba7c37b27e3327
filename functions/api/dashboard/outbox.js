// The outbox: sent emails, newest first.

import { PAGE_SIZE } from './constants.js';
import { h, uniqueId } from './dom.js';
import { time } from './format.js';
import { api, query } from './api.js';
import { clearErrors, showLoadError } from './notices.js';
import { clientHref } from './routing.js';
import { emailDetails, pageHeader, pager } from './pieces.js';
import { emptyRow, labelCells } from './clients.js';

export const outboxList = { cursor: null, previous: [] };

export async function renderOutbox(ctx) {
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

export function outboxRows(email) {
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
