// Calls to the API with the operator's token; its errors, in words.

import { TOKEN_KEY } from './constants.js';
import { $ } from './dom.js';
import { showTokenForm, signOut } from './session.js';

class ApiError extends Error {
  constructor(status, message, errors = [], retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}

export const enc = encodeURIComponent;

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The one way to call the API: adds the token, sends JSON, parses JSON, throws ApiError on failure. */
export async function api(method, path, body) {
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

export async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function failureMessage(response, data) {
  if (response.status === 503) return 'temporarily unavailable, retry shortly';
  if (data && typeof data.message === 'string' && data.message) return data.message;
  return `the request failed (HTTP ${response.status})`;
}
