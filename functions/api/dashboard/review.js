// The review queue: read, edit, approve or reject drafts (with keyboard shortcuts).

import { REVIEWER_KEY, REVIEW_PAGE_SIZE, STATUS_LABELS } from './constants.js';
import { $, h, uniqueId } from './dom.js';
import { formatDate, formatMoney, label, scoreFormat, time } from './format.js';
import { api, enc, query } from './api.js';
import { clearErrors, errorBox, notify, showError, withBusy } from './notices.js';
import { clientHref, navigation } from './routing.js';
import { bandBadge, definitionList, emailPreview, pageHeader, reviewerName, statusBadge, textVersion, transitionsList } from './pieces.js';

export const review = { items: [], nextCursor: null, selectedId: null };

export async function renderReview(ctx, rest) {
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
      picksPanel(email, onPicksSaved),
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

  function onPicksSaved(updated) {
    const index = review.items.findIndex((e) => e.emailId === updated.emailId);
    if (index >= 0) review.items[index] = updated;
    drawList();
    drawPane(updated);
    notify('Products saved and the draft re-rendered.', 'success');
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
  if (ctx.mount(root)) navigation.keyHandler = onKey;
}

export function isTextField(target) {
  return target instanceof Element && Boolean(target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'));
}

export function shortcutHelp() {
  const keys = [['j', 'next email'], ['k', 'previous email'], ['a', 'approve'], ['r', 'reject (asks for a reason)'],
    ['e', 'edit the draft'], ['?', 'show or hide this help'], ['Esc', 'close this help']];
  return h('div', { id: 'shortcut-help', class: 'card shortcut-help', testid: 'shortcut-help', hidden: true },
    h('h2', {}, 'Keyboard shortcuts'),
    h('p', { class: 'muted' }, 'When the focus is not in a text field.'),
    h('dl', { class: 'fields' }, keys.map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, what)])));
}

export function outcomeText(kind, email) {
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

export const EDIT_FIELDS = [
  { name: 'subject', label: 'Subject', from: (email) => email.subject },
  { name: 'preheader', label: 'Preheader', from: (email) => email.preheader },
  { name: 'greeting', label: 'Greeting', from: (email) => email.body.greeting },
  { name: 'paragraphs', label: 'Paragraphs', hint: 'a blank line between paragraphs', multiline: true,
    from: (email) => (email.body.paragraphs || []).join('\n\n') },
  { name: 'callToActionLabel', label: 'Call-to-action label', from: (email) => email.body.callToActionLabel },
  { name: 'signOff', label: 'Sign-off', from: (email) => email.body.signOff },
];

export function editForm(email, onSaved, onCancel) {
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

export const MAX_PICKS = 3;

/** The products the email shows and the candidates it could show instead, each with why it was chosen; while the
 * draft is pending, a reviewer ticks up to three and saves (the API checks stock and the guardrails again). */
export function picksPanel(email, onSaved) {
  const candidates = Array.isArray(email.candidates) ? email.candidates : [];
  const picks = Array.isArray(email.picks) ? email.picks : [];
  if (!candidates.length && !picks.length) {
    return h('section', { class: 'card picks', testid: 'picks' }, h('h3', {}, 'Products'),
      h('p', { class: 'muted' }, 'No products: the client has no candidates in the catalog.'));
  }
  const shown = new Set(picks.map((p) => p.productId));
  const pending = email.status === 'PENDING_REVIEW';
  const errorSlot = h('div');
  const save = h('button', { type: 'submit', class: 'primary', testid: 'save-picks', disabled: true }, 'Save products');
  const rows = (candidates.length ? candidates : picks).map((product) => {
    const id = uniqueId(`pick-${product.productId}`);
    const box = h('input', { id, type: 'checkbox', name: 'pick', value: product.productId, checked: shown.has(product.productId),
      disabled: !pending, onchange: onChange });
    return h('li', { class: 'pick', testid: 'pick', 'data-product-id': product.productId },
      box,
      h('label', { for: id },
        h('strong', {}, String(product.title)), ' \u00b7 ', formatMoney(product.price, product.currency),
        ' \u00b7 ', h('span', { class: 'muted' }, `#${product.rank}`),
        shown.has(product.productId) ? h('span', { class: 'badge', testid: 'shown' }, 'shown') : null,
        h('br'), h('small', { class: 'muted', testid: 'pick-reason' }, String(product.reason || ''))));
  });
  const form = h('form', { class: 'card picks', testid: 'picks', onsubmit: onSubmit },
    h('h3', {}, `Products (${picks.length} shown of ${candidates.length} candidates)`),
    pending ? h('p', { class: 'muted' }, `Tick up to ${MAX_PICKS}; the email shows them best-ranked first.`) : null,
    h('ul', { class: 'pick-list' }, rows),
    pending ? h('div', { class: 'form-actions' }, save) : null,
    errorSlot);

  function chosen() {
    return [...form.querySelectorAll('input[name="pick"]:checked')].map((box) => box.value);
  }

  function onChange() {
    const ids = chosen();
    const same = ids.length === shown.size && ids.every((id) => shown.has(id));
    save.disabled = same || ids.length > MAX_PICKS;
    errorSlot.replaceChildren(ids.length > MAX_PICKS ? h('p', { class: 'error', role: 'alert' }, `At most ${MAX_PICKS} products.`) : '');
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors(errorSlot, form);
    const body = { productIds: chosen(), version: email.version };
    const editor = reviewerName();
    if (editor) body.editor = editor;
    await withBusy(save, async () => {
      try {
        onSaved(await api('PUT', `/api/emails/${enc(email.emailId)}/picks`, body));
      } catch (error) {
        showError(errorSlot, error, form);
      }
    });
  }
  return form;
}
