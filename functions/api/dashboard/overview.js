// The overview: clients per band, emails per status, decisions and conversion.

import {
  BANDS, BAND_COLOURS, BAND_LABELS, P_ALIVE_BUCKETS, P_ALIVE_COLOUR, REASON_LABELS, STATUS_LABELS, VARIANT_LABELS,
} from './constants.js';
import { $, fill, h, svg } from './dom.js';
import {
  formatAge, formatDate, formatLift, formatNumber, formatRate, label, parameterFormat, parseDate, time,
} from './format.js';
import { api } from './api.js';
import { clearErrors, notify, showError, withBusy } from './notices.js';
import { definitionList, pageHeader } from './pieces.js';

export async function renderOverview(ctx) {
  const root = h('section', { class: 'page', testid: 'overview' });
  async function load(refresh) {
    const stats = await api('GET', `/api/stats${refresh ? '?refresh=true' : ''}`);
    fill(root, overviewContent(stats, load));
  }
  await load(false);
  ctx.mount(root);
}

export function overviewContent(stats, load) {
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
      churnPanel(stats.churn),
      h('section', { class: 'card' }, h('h2', {}, 'Emails per status'),
        barTable(byStatus, (key) => label(STATUS_LABELS, key), 'Status', 'status-chart')),
      h('section', { class: 'card' }, h('h2', {}, 'Decisions by reason'),
        barTable((stats.decisions || {}).byReason || {}, (key) => label(REASON_LABELS, key), 'Reason', 'reason-chart')),
      h('section', { class: 'card' }, h('h2', {}, 'Conversion'), conversionTable(conversion)),
    ),
  ];
}

/** "as of 12 s ago", kept current while it is on screen. */
export function freshness(stats) {
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

export function tile(title, value, note, testid, href) {
  const body = [h('span', { class: 'tile-title' }, title), h('span', { class: 'tile-value' }, value),
    note ? h('span', { class: 'tile-note' }, note) : null];
  return href ? h('a', { class: 'tile', href, testid }, body) : h('div', { class: 'tile', testid }, body);
}

export function bandChart(byBand) {
  const bands = BANDS.concat(byBand.unknown ? ['unknown'] : []);
  return columnChart({
    keys: bands, counts: byBand, name: (band) => BAND_LABELS[band], colour: (band) => BAND_COLOURS[band],
    title: 'Clients per band', chartClass: 'band-chart', testid: 'band-chart', barTestid: 'band-bar', keyAttribute: 'data-band',
  });
}

/** Vertical bars with their counts above and names below: one per key, each a <g> a test can find by its key. */
export function columnChart({ keys, counts, name, colour, title, chartClass, testid, barTestid, keyAttribute, slot = 100, barWidth = 56 }) {
  const values = keys.map((key) => (typeof counts[key] === 'number' ? counts[key] : 0));
  const max = Math.max(1, ...values);
  const top = 26;
  const bottom = 30;
  const height = 220;
  const plot = height - top - bottom;
  const summary = keys.map((key, i) => `${name(key)} ${values[i]}`).join(', ');
  return svg('svg', {
    class: `column-chart ${chartClass}`, viewBox: `0 0 ${slot * keys.length} ${height}`, role: 'img',
    'aria-label': `${title}: ${summary}`, testid,
  },
  svg('line', { x1: 0, x2: slot * keys.length, y1: top + plot, y2: top + plot, class: 'axis' }),
  keys.map((key, i) => {
    const barHeight = values[i] ? Math.max(2, (values[i] / max) * plot) : 0;
    const x = i * slot + (slot - barWidth) / 2;
    const y = top + plot - barHeight;
    return svg('g', { 'data-testid': barTestid, [keyAttribute]: key },
      svg('rect', { x, y, width: barWidth, height: barHeight, rx: 3, fill: colour(key) }),
      svg('text', { x: x + barWidth / 2, y: y - 8, 'text-anchor': 'middle', class: 'bar-count' }, String(values[i])),
      svg('text', { x: x + barWidth / 2, y: height - 10, 'text-anchor': 'middle', class: 'bar-label' }, name(key)),
    );
  }));
}

/** The churn model in use and what it says about the clients; null when the stats predate it (no churn). */
export function churnPanel(churn) {
  if (!churn || typeof churn !== 'object') return null;
  const model = churn.model && typeof churn.model === 'object' ? churn.model : {};
  const fitted = model.status === 'fitted';
  return h('section', { class: 'card', testid: 'churn-panel' },
    h('h2', {}, 'Churn model'),
    fitted ? [
      h('p', { testid: 'churn-model-summary' }, modelSummary(model)),
      columnChart({
        keys: P_ALIVE_BUCKETS, counts: churn.pAlive || {}, name: (bucket) => bucket.replace('-', '\u2013'),
        colour: () => P_ALIVE_COLOUR, title: 'Clients per chance of still being a client, in %', chartClass: 'p-alive-chart',
        testid: 'p-alive-chart', barTestid: 'p-alive-bar', keyAttribute: 'data-bucket', slot: 60, barWidth: 40,
      }),
      h('p', { class: 'muted chart-caption' }, 'Clients per chance of still being a client (%)'),
      h('p', { testid: 'overdue-count' },
        `${formatNumber(churn.overdue ?? 0)} of ${formatNumber(churn.judged ?? 0)} clients overdue against their own rhythm`),
      modelParameters(model),
    ] : [
      h('p', { testid: 'churn-model-reason' }, model.reason ? String(model.reason) : 'No churn model is in use.'),
      model.status === 'insufficient' && model.fittedAt
        ? h('p', { class: 'muted' }, 'Last tried ', time(model.fittedAt), '; the rule score is in use.') : null,
    ]);
}

/** "MBG/NBD fitted 3 Jan 2027 on 1,200 clients (400 repeat buyers)", with the whole when the fit saw a sample. */
export function modelSummary(model) {
  const sample = model.sampled === true ? `, a sample of ${formatNumber(model.clientsSeen)}` : '';
  return [label(VARIANT_LABELS, model.variant), ' fitted ', time(model.fittedAt),
    ` on ${formatNumber(model.clients)} clients${sample} (${formatNumber(model.repeatBuyers)} repeat buyers)`];
}

export function modelParameters(model) {
  const parameter = (value) => h('code', {}, formatNumber(value, parameterFormat));
  return h('details', { class: 'model-parameters' }, h('summary', {}, 'Parameters'),
    definitionList([
      ['Version', h('code', {}, String(model.version))],
      ['r, \u03b1 (order rate)', [parameter(model.r), ', ', parameter(model.alpha)]],
      ['a, b (dropping out)', [parameter(model.a), ', ', parameter(model.b)]],
      ['Time unit', model.timeUnit ? String(model.timeUnit) : '\u2014'],
      ['Log-likelihood', parameter(model.logLikelihood)],
      ['Iterations', formatNumber(model.iterations)],
      ['Repeat buyers needed', formatNumber(model.minRepeatBuyers)],
    ]));
}

export function barTable(counts, name, heading, testid) {
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

export function conversionTable(conversion) {
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
