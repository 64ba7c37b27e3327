// One client: score, timeline, orders (history and recording one), edits, an operator's win-back request, emails,
// deletion.

import {
  BAND_LABELS, FACTOR_LABELS, ORDER_FLAG_LABELS, ORDER_SOURCE_LABELS, PAGE_SIZE, REASON_LABELS, SCORE_SOURCE_LABELS,
  STATUS_LABELS,
} from './constants.js';
import { $, fill, h, uniqueId } from './dom.js';
import { formatMoney, formatNumber, fromLocalInput, label, moneyFormat, scoreFormat, time } from './format.js';
import { api, enc, query } from './api.js';
import { clearErrors, errorBox, notify, showError, showLoadError, withBusy } from './notices.js';
import { bandBadge, definitionList, emailDetails, pageHeader, reviewerName, scoreText, statusBadge } from './pieces.js';
import { clientForm, emptyRow, labelCells } from './clients.js';
import { review } from './review.js';

export async function renderClientDetail(ctx, userId) {
  const root = h('section', { class: 'page', testid: 'client-detail' });
  const orderSection = orderForm(userId, refresh);
  const orders = orderHistory(userId);
  const emailsSection = h('section', { class: 'card' }, h('h2', {}, 'Emails'), h('p', { class: 'loading' }, 'Loading\u2026'));

  async function refresh() {
    const client = await api('GET', `/api/users/${enc(userId)}`);
    draw(client);
    loadClientEmails(userId, client, emailsSection);
    orders.load(null);
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
          winbackSection(client, onRequested),
          deleteSection(client)),
        h('div', { class: 'column' },
          orderSection,
          orders.element,
          timelineSection(client),
          emailsSection)),
    );
  }

  function onRequested() {  // the draft appears once the email processor has written it: look again shortly
    for (const delay of [2000, 6000]) setTimeout(() => refresh().catch(() => {}), delay);
  }

  function onSaved(client) {
    notify('Changes saved.', 'success');
    refresh().catch((error) => showError(null, error));
    return client;
  }

  await refresh();
  ctx.mount(root);
}

export function clientFields(client) {
  const categories = Array.isArray(client.preferredCategories) ? client.preferredCategories.join(', ') : client.preferredCategories;
  return definitionList([
    ['Client id', h('code', {}, String(client.userId))],
    ['Email', client.email != null ? String(client.email) : '\u2014'],
    ['Orders', formatNumber(client.orderCount)],
    ['Average order value', formatNumber(client.averageOrderValue, moneyFormat)],
    client.totalSpent != null ? ['Total spent', formatNumber(client.totalSpent, moneyFormat)] : null,
    client.firstOrderDate ? ['First order', time(client.firstOrderDate)] : null,
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

export function scoreSection(score) {
  const factors = Array.isArray(score.breakdown) ? score.breakdown : [];
  const rhythm = score.rhythm && typeof score.rhythm === 'object' ? score.rhythm : null;
  return h('section', { class: 'card', testid: 'score' },
    h('h2', {}, 'Score'),
    h('p', { class: 'score-line' }, h('span', { class: 'score-value' }, scoreText(score)), ' ', bandBadge(score.band)),
    h('p', { class: 'muted' }, scoreSourceText(score)),
    rhythm ? rhythmBlock(rhythm)
      : score.note ? h('p', { class: 'muted', testid: 'score-note' }, String(score.note)) : null,
    factors.length && score.source !== 'computed' ? h('h3', {}, 'Rule score') : null,
    factors.length ? h('ul', { class: 'breakdown', testid: 'score-breakdown' }, factors.map(factorItem)) : null);
}

/** Where the score comes from: an override, the churn model (P(alive) on 0-100) or the rule score. */
export function scoreSourceText(score) {
  const own = formatNumber(score.computedValue, scoreFormat);
  if (score.source === 'provided') {
    return `Set by an override; the ${score.rhythm ? 'churn model' : 'rule score'} gives ${own}.`;
  }
  if (score.source === 'model') return 'From the churn model: the chance that they are still a client, out of 100.';
  return 'Computed by the rule score (recency, frequency and order value).';
}

/** "21 %", "under 1 %" for a chance above 0 that rounds to 0. */
export function chanceText(probability) {
  if (typeof probability !== 'number' || !Number.isFinite(probability)) return '\u2014';
  const percent = Math.round(probability * 100);
  return percent === 0 && probability > 0 ? 'under 1 %' : `${percent} %`;
}

/** The churn model's view of the client against their own buying rhythm. */
export function rhythmBlock(rhythm) {
  return h('div', { class: 'rhythm', testid: 'rhythm' },
    h('p', { testid: 'p-alive' }, 'Still a client: ', h('strong', {}, chanceText(rhythm.pAlive))),
    rhythm.nextOrderDate ? h('p', { testid: 'next-order' },
      'Next order expected: ', time(rhythm.nextOrderDate, { dateOnly: true }), ' (if still a client)') : null,
    rhythm.overdue === true ? h('p', {}, h('span', { class: 'flag flag-overdue', testid: 'overdue' },
      h('span', { 'aria-hidden': 'true' }, '\u26a0 '), 'Overdue against their own rhythm')) : null,
    rhythm.explanation ? h('p', { class: 'muted', testid: 'rhythm-explanation' }, String(rhythm.explanation)) : null,
    rhythm.modelVersion ? h('p', { class: 'hint' }, 'Churn model ', h('code', {}, String(rhythm.modelVersion))) : null);
}

export function factorItem(factor) {
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
export function timelineOf(client) {
  if (Array.isArray(client.timeline)) return client.timeline;
  const decisions = (client.recentDecisions || []).map((d) => ({ ...d, kind: 'decision', at: d.decidedAt }));
  const emails = (client.recentEmails || []).flatMap((email) => (email.transitions || []).map((step) => ({
    ...step, kind: 'email', emailId: email.emailId, subject: email.subject,
  })));
  return [...decisions, ...emails].sort((a, b) => String(b.at).localeCompare(String(a.at)));
}

export function timelineSection(client) {
  const entries = timelineOf(client);
  return h('section', { class: 'card' },
    h('h2', {}, 'Timeline'),
    entries.length
      ? h('ol', { class: 'timeline', testid: 'timeline' }, entries.map(timelineEntry))
      : h('p', { class: 'muted' }, 'Nothing has happened to this client yet.'));
}

export function timelineEntry(entry) {
  if (entry.kind === 'decision') {
    const facts = [entry.eventType, typeof entry.score === 'number' ? `score ${scoreFormat.format(entry.score)}` : null,
      entry.band ? label(BAND_LABELS, entry.band) : null,
      entry.scoreSource ? label(SCORE_SOURCE_LABELS, entry.scoreSource) : null].filter(Boolean).join(' \u00b7 ');
    return h('li', { class: 'timeline-decision', 'data-kind': 'decision' },
      time(entry.at),
      h('div', {}, h('strong', {}, 'Decision: '), label(REASON_LABELS, entry.reason), entry.send ? ' \u2014 send' : ' \u2014 skip'),
      facts ? h('div', { class: 'muted' }, facts) : null,
      entry.request ? h('div', { class: 'muted', testid: 'requested-by' }, requestText(entry.request)) : null,
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

/** "asked by ana: VIP called · overriding the cooldown (emailed recently)" */
export function requestText(request) {
  const overrides = Array.isArray(request.overrides) ? request.overrides.map((o) => label(OVERRIDE_LABELS, o)) : [];
  return `asked by ${request.requestedBy || 'an operator'}${request.reason ? `: ${request.reason}` : ''}`
    + (overrides.length ? ` · overriding ${overrides.join(', ')}` : '');
}

export function orderForm(userId, refresh) {
  const amountId = uniqueId('amount');
  const dateId = uniqueId('ordered-at');
  const orderIdId = uniqueId('order-id');
  const errorSlot = h('div');
  const result = h('div', { class: 'result', testid: 'order-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Record order');
  const form = h('form', { class: 'form-grid', testid: 'order-form', onsubmit: onSubmit },
    h('div', { class: 'field' }, h('label', { for: amountId }, 'Amount'),
      h('input', { id: amountId, name: 'amount', type: 'number', min: 0, step: 0.01, required: true, inputmode: 'decimal' })),
    h('div', { class: 'field' }, h('label', { for: dateId }, 'Ordered at'),
      h('input', { id: dateId, name: 'orderedAt', type: 'datetime-local', 'aria-describedby': `${dateId}-hint` }),
      h('small', { id: `${dateId}-hint`, class: 'hint' }, 'empty: now')),
    h('div', { class: 'field' }, h('label', { for: orderIdId }, 'Order id'),
      h('input', { id: orderIdId, name: 'orderId', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${orderIdId}-hint` }),
      h('small', { id: `${orderIdId}-hint`, class: 'hint' }, 'optional; the same id again counts once')),
    h('div', { class: 'form-actions' }, submit),
    errorSlot);

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(errorSlot, form);
    result.replaceChildren();
    const body = { amount: Number(form.elements.namedItem('amount').value) };
    const orderedAt = form.elements.namedItem('orderedAt').value;
    if (orderedAt) body.orderedAt = fromLocalInput(orderedAt);
    const orderId = form.elements.namedItem('orderId').value.trim();
    if (orderId) body.orderId = orderId;
    await withBusy(submit, async () => {
      try {
        const outcome = await api('POST', `/api/users/${enc(userId)}/orders`, body);
        const text = outcome.duplicate === true
          ? `Already recorded (counted once): order ${orderId} was sent before.`
          : `Recorded. ${attributionText(outcome.attributedTo)}`;
        form.reset();
        result.replaceChildren(h('p', {}, text));
        notify(text, outcome.duplicate === true ? 'info' : 'success');
        await refresh();
      } catch (error) {
        showError(errorSlot, error, form);
      }
    });
  }
  return h('section', { class: 'card' }, h('h2', {}, 'Record an order'), form, result);
}

/** The client's orders, newest first, 25 at a time: load(null) (re)loads the first page, load(cursor) appends. */
export function orderHistory(userId) {
  const errorSlot = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'data compact stack', testid: 'order-history' },
    h('caption', { class: 'visually-hidden' }, 'Orders, newest first'),
    h('thead', {}, h('tr', {}, ['Date', 'Order', 'Amount', 'Items', 'Source', 'Flags']
      .map((title) => h('th', { scope: 'col', class: title === 'Amount' ? 'num' : null }, title)))),
    tbody);
  const more = h('button', { type: 'button', testid: 'orders-more', hidden: true, onclick: () => load(nextCursor) }, 'Load more');
  let nextCursor = null;
  let loadSerial = 0;

  async function load(cursor) {
    loadSerial += 1;
    const serial = loadSerial;
    table.setAttribute('aria-busy', 'true');
    more.disabled = true;
    clearErrors(errorSlot);
    try {
      const page = await api('GET', `/api/users/${enc(userId)}/orders${query({ limit: PAGE_SIZE, cursor })}`);
      if (serial !== loadSerial) return; // reloaded meanwhile (an order was recorded)
      const rows = (Array.isArray(page.items) ? page.items : []).map(orderRow);
      if (cursor) tbody.append(...rows);
      else tbody.replaceChildren(...(rows.length ? rows : [emptyRow(6, 'No orders yet.')]));
      labelCells(table);
      nextCursor = page.nextCursor || null;
      more.hidden = nextCursor === null;
    } catch (error) {
      if (serial === loadSerial) showLoadError(errorSlot, error, () => load(cursor));
    } finally {
      if (serial === loadSerial) {
        table.removeAttribute('aria-busy');
        more.disabled = false;
      }
    }
  }

  const element = h('section', { class: 'card' }, h('h2', {}, 'Order history'),
    errorSlot, h('div', { class: 'table-wrap' }, table), h('div', { class: 'form-actions' }, more));
  return { element, load };
}

export function orderRow(order) {
  const lines = Array.isArray(order.lineItems) ? order.lineItems : [];
  const flags = Array.isArray(order.flags) ? order.flags : [];
  return h('tr', { testid: 'order-row', 'data-order-id': String(order.orderId) },
    h('td', {}, time(order.orderedAt, { dateOnly: true })),
    h('td', { class: 'wrap' }, h('code', {}, String(order.orderId))),
    h('td', { class: 'num' }, formatMoney(order.amount, order.currency)),
    h('td', { class: 'wrap' }, lines.length ? lines.map((line, i) => [i ? ', ' : '', lineItemText(line)]) : '\u2014'),
    h('td', {}, order.source ? label(ORDER_SOURCE_LABELS, order.source) : '\u2014'),
    h('td', {}, flags.length
      ? h('span', { class: 'flags' }, flags.map((flag) => orderFlag(flag, order)))
      : h('span', { class: 'muted' }, '\u2014')));
}

/** "2 × top-0042", or with the title the order gave it (its product id in the tooltip). */
export function lineItemText(line) {
  const name = line.title ? String(line.title) : String(line.productId);
  return h('span', { title: line.title ? String(line.productId) : null }, `${formatNumber(line.quantity)} \u00d7 ${name}`);
}

export function orderFlag(flag, order) {
  const unknown = flag === 'unknown_products' && Array.isArray(order.unknownProductIds) ? order.unknownProductIds : [];
  return h('span', { class: 'flag flag-order', testid: 'order-flag', 'data-flag': String(flag) },
    h('span', { 'aria-hidden': 'true' }, '\u26a0 '), label(ORDER_FLAG_LABELS, flag), unknown.length ? `: ${unknown.join(', ')}` : '');
}

export function attributionText(attributedTo) {
  if (attributedTo === 'holdout') return 'It counts for the holdout: the client was held out, not emailed.';
  if (attributedTo) return `It converts email ${attributedTo}.`;
  return 'It converts nothing: no email or holdout decision within the conversion window.';
}

export const OVERRIDE_LABELS = {
  cooldown: 'the cooldown (emailed recently)', frequency_cap: 'the frequency cap', holdout: 'the holdout (control group)',
};

/** An operator's request for a win-back draft now, by the pipeline's own path (writer, guardrails, review). One
 * request id per form: a double click or a retry makes one draft. Consent and deliverability cannot be overridden;
 * the cooldown, the frequency cap and the holdout only by ticking them. */
export function winbackSection(client, onRequested) {
  let requestId = newRequestId();
  const reason = h('input', { id: uniqueId('winback-reason'), name: 'reason', maxlength: 500, testid: 'winback-reason',
    placeholder: 'e.g. called the shop about a late parcel' });
  const boxes = Object.entries(OVERRIDE_LABELS).map(([value, text]) => {
    const id = uniqueId(`override-${value}`);
    return h('label', { class: 'check', for: id },
      h('input', { id, type: 'checkbox', name: 'override', value, testid: `override-${value}` }), ` ${text}`);
  });
  const button = h('button', { type: 'submit', class: 'primary', testid: 'request-winback' }, 'Draft a win-back email now');
  const result = h('div', { testid: 'winback-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'winback-request', onsubmit: onSubmit },
    h('div', { class: 'field' }, h('label', { for: reason.id }, 'Why (kept with the draft)'), reason),
    h('fieldset', { class: 'overrides' }, h('legend', {}, 'Draft even within'), ...boxes),
    h('div', { class: 'form-actions' }, button),
    result);

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(result, form);
    const body = { requestId,
      override: [...form.querySelectorAll('input[name="override"]:checked')].map((box) => box.value) };
    if (reason.value.trim()) body.reason = reason.value.trim();
    const who = reviewerName();
    if (who) body.requestedBy = who;
    await withBusy(button, async () => {
      try {
        const answer = await api('POST', `/api/users/${enc(client.userId)}/winback`, body);
        result.replaceChildren(h('p', { class: 'success' }, answer.status === 'queued'
          ? 'Requested: the draft appears under Emails in a few seconds, then waits in the ' : 'Drafted already: see it in the ',
          h('a', { href: `#/review/${enc(answer.emailId)}` }, 'review queue'), '.'));
        notify('Win-back draft requested.', 'success');
        requestId = newRequestId(); // the next click is a new request
        onRequested(answer);
      } catch (error) {
        showError(result, error, form);
      }
    });
  }
  return h('section', { class: 'card', testid: 'winback-request' },
    h('h2', {}, 'Win-back email'),
    client.optedOut === true || client.suppressed === true
      ? h('p', { class: 'muted' }, 'This client cannot be emailed (opted out or suppressed); a request is refused.')
      : h('p', { class: 'muted' }, 'Ask for a draft now, written and checked as the pipeline does.'),
    form);
}

function newRequestId() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
}

export function deleteSection(client) {
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

export async function loadClientEmails(userId, client, section) {
  const heading = section.firstChild;
  try {
    const page = await api('GET', `/api/users/${enc(userId)}/emails?limit=10`);
    section.replaceChildren(heading, emailList(page.items || []));
  } catch (error) {
    if (Array.isArray(client.recentEmails)) section.replaceChildren(heading, emailList(client.recentEmails));
    else section.replaceChildren(heading, errorBox(error));
  }
}

export function emailList(emails) {
  if (!emails.length) return h('p', { class: 'muted' }, 'No emails yet.');
  return h('ul', { class: 'email-list', testid: 'client-emails' }, emails.map((email) => h('li', {},
    h('details', { ontoggle: (event) => fillEmailDetails(event.currentTarget, email) },
      h('summary', {}, statusBadge(email.status), ' ', String(email.subject || '(no subject)'), ' \u00b7 ', time(email.createdAt))),
    email.status === 'PENDING_REVIEW' ? h('a', { href: `#/review/${enc(email.emailId)}` }, 'Review it') : null)));
}

/** Fill a <details> with an email when it is first opened (fetching its HTML if the list left it out). */
export async function fillEmailDetails(details, email) {
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
