// Dates, numbers and labels in the browser's locale.

import { $, h } from './dom.js';

export const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
export const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const scoreFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
export const moneyFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const parameterFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
export const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

export function parseDate(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDate(value, { dateOnly = false } = {}) {
  const date = parseDate(value);
  if (!date) return value ? String(value) : '\u2014';
  return (dateOnly ? dateFormat : dateTimeFormat).format(date);
}

/** A <time> element in the browser's locale, the full instant in its tooltip. */
export function time(value, options) {
  const date = parseDate(value);
  if (!date) return value ? String(value) : '\u2014';
  return h('time', { datetime: date.toISOString(), title: fullFormat.format(date) }, formatDate(value, options));
}

export function formatNumber(value, format = integerFormat) {
  return typeof value === 'number' && Number.isFinite(value) ? format.format(value) : value == null ? '\u2014' : String(value);
}

/** "49.95 EUR": an amount with its currency code (as the API names it). */
export function formatMoney(amount, currency) {
  return currency ? `${formatNumber(amount, moneyFormat)} ${currency}` : formatNumber(amount, moneyFormat);
}

export function formatRate(rate) {
  return typeof rate === 'number' ? percentFormat.format(rate) : '\u2014';
}

export function formatLift(lift) {
  if (typeof lift !== 'number') return '\u2014';
  const points = scoreFormat.format(Math.abs(lift * 100));
  return `${lift < 0 ? '\u2212' : '+'}${points} pts`;
}

export function formatAge(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '\u2014';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** "2026-11-28T12:00:00Z" to "2026-11-28T13:00" in local time, for <input type="datetime-local">. */
export function toLocalInput(value) {
  const date = parseDate(value);
  if (!date) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (the browser's time zone) as ISO 8601 in UTC, which carries its offset (Z). */
export function fromLocalInput(value) {
  const date = parseDate(value);
  return date ? date.toISOString() : value;
}

export function label(labels, key) {
  return labels[key] || String(key);
}
