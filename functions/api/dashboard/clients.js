// The client list: search, band filter, pages, adding a client.

import { BANDS, BAND_LABELS, PAGE_SIZE, SEARCH_DELAY_MS } from './constants.js';
import { $, h, uniqueId } from './dom.js';
import { formatNumber, fromLocalInput, time, toLocalInput } from './format.js';
import { api, enc, query } from './api.js';
import { clearErrors, notify, showError, showLoadError, withBusy } from './notices.js';
import { clientHref } from './routing.js';
import { bandBadge, clientFlags, pageHeader, pager, scoreText } from './pieces.js';
import { renderClientDetail } from './client-detail.js';

export const clientList = { band: '', q: '', cursor: null, previous: [] }; // kept while the tab lives

export const CLIENT_FIELDS = [
  { name: 'userId', label: 'Client id', hint: 'optional; one is made if empty', createOnly: true },
  { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'off' },
  { name: 'name', label: 'Name', required: true, autocomplete: 'off' },
  { name: 'lastOrderDate', label: 'Last order', type: 'datetime-local', clearsTo: null },
  { name: 'orderCount', label: 'Orders', type: 'number', min: 0, step: 1, integer: true },
  { name: 'averageOrderValue', label: 'Average order value', type: 'number', min: 0, step: 0.01, numeric: true },
  { name: 'preferredCategories', label: 'Preferred categories', hint: 'comma-separated', list: true, clearsTo: [] },
  { name: 'engagementScore', label: 'Score override', type: 'number', min: 0, max: 100, step: 'any', numeric: true,
    hint: 'empty: the churn model\u2019s or the rule score is used', clearsTo: null },
  { name: 'timezone', label: 'Time zone', hint: 'IANA name, e.g. Europe/London', datalist: 'timezones', clearsTo: null },
];

export async function renderClients(ctx, rest) {
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

export function clientRow(client) {
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
export function labelCells(table) {
  const headers = [...table.tHead.rows[0].cells].map((cell) => cell.textContent);
  for (const row of table.tBodies[0].rows) {
    if (row.cells.length !== headers.length) continue; // an empty-state or detail row spans the table
    [...row.cells].forEach((cell, i) => cell.setAttribute('data-label', headers[i]));
  }
}

export function emptyRow(columns, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function ensureTimezoneList() {
  if ($('timezones') || typeof Intl.supportedValuesOf !== 'function') return;
  document.body.append(h('datalist', { id: 'timezones' },
    Intl.supportedValuesOf('timeZone').map((zone) => h('option', { value: zone }))));
}

export function clientFieldValue(client, field) {
  const value = client ? client[field.name] : undefined;
  if (value === undefined || value === null) return '';
  if (field.type === 'datetime-local') return toLocalInput(value);
  if (field.list) return Array.isArray(value) ? value.join(', ') : String(value);
  return String(value);
}

export function clientApiValue(field, raw) {
  if (field.type === 'datetime-local') return fromLocalInput(raw);
  if (field.integer) return Number.parseInt(raw, 10);
  if (field.numeric) return Number(raw);
  if (field.list) return raw.split(',').map((part) => part.trim()).filter(Boolean);
  return raw;
}

/** The add form (client null: POST) or the edit form (PATCH of the changed fields). */
export function clientForm(client, onSaved) {
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

export function formField(field, value) {
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
