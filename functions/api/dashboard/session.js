// Signing in with the API token, and out.

import { TOKEN_KEY } from './constants.js';
import { $ } from './dom.js';
import { clearNotice } from './notices.js';
import { navigation, route } from './routing.js';

export function hasToken() {
  return Boolean(sessionStorage.getItem(TOKEN_KEY));
}

export function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  showTokenForm(message);
}

export function showTokenForm(message) {
  navigation.serial += 1; // pages still loading must not appear behind the form
  $('shell-header').hidden = true;
  $('main').hidden = true;
  $('main').replaceChildren();
  $('token-view').hidden = false;
  $('token-message').textContent = message || '';
  navigation.keyHandler = null;
  $('token-input').value = '';
  $('token-input').focus();
}

export function showApp() {
  $('token-view').hidden = true;
  $('token-message').textContent = '';
  $('shell-header').hidden = false;
  $('main').hidden = false;
}

export function onTokenSubmit(event) {
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

export function onSignOutClick() {
  signOut('Signed out.');
  clearNotice();
}
