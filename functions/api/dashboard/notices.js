// Notices, error boxes and busy buttons.

import { $, h } from './dom.js';

export let noticeTimer = null;

/** The page-wide status line (role="status"): kind is info, success or error. */
export function notify(message, kind = 'info') {
  const area = $('notice');
  clearTimeout(noticeTimer);
  area.className = `notice notice-${kind}`;
  area.replaceChildren(
    h('span', { class: 'notice-text' }, message),
    h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss notice', onclick: clearNotice }, '\u00d7'),
  );
  if (kind !== 'error') noticeTimer = setTimeout(clearNotice, 10000);
}

export function clearNotice() {
  clearTimeout(noticeTimer);
  const area = $('notice');
  area.className = 'notice';
  area.replaceChildren();
}

/** The API's message and each of its errors (field: message), as text. */
export function errorBox(error) {
  const details = (error.errors || []).map((item) =>
    h('li', {}, h('code', {}, errorField(item)), ': ', item && item.message != null ? String(item.message) : 'invalid'),
  );
  return h('div', { class: 'error-box', role: 'alert', testid: 'error' },
    h('p', {}, String(error.message || error)),
    details.length ? h('ul', {}, details) : null,
  );
}

export function errorField(item) {
  if (!item) return 'request';
  const field = item.field ? String(item.field) : '';
  return field || String(item.in || 'request');
}

/** Show an error next to what failed (slot), mark the form's fields it names, and in the notice area. */
export function showError(slot, error, form) {
  if (error.status === 401) return; // the token form has taken over
  if (slot) slot.replaceChildren(errorBox(error));
  if (form) markInvalid(form, error.errors || []);
  notify(error.message, 'error');
}

/** A list that failed to load offers to try again. */
export function showLoadError(slot, error, retry) {
  showError(slot, error);
  if (slot.firstChild) slot.firstChild.append(h('button', { type: 'button', testid: 'retry', onclick: retry }, 'Retry'));
}

export function markInvalid(form, errors) {
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
  for (const item of errors) {
    const name = errorField(item).split('.')[0];
    const field = form.elements.namedItem(name);
    if (field && field.setAttribute) field.setAttribute('aria-invalid', 'true');
  }
}

export function clearErrors(slot, form) {
  if (slot) slot.replaceChildren();
  if (form) markInvalid(form, []);
}

/** Run an action from a button or form: disable it meanwhile; errors go to slot. */
export async function withBusy(control, action) {
  if (control) control.disabled = true;
  try {
    return await action();
  } finally {
    if (control) control.disabled = false;
  }
}
