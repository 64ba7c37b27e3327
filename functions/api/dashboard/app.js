// Operator console for the win-back pipeline: native ES modules, no dependencies, no build step.
// Every string from the API becomes a text node (see dom.js's h()); an email's HTML only ever goes into
// <iframe sandbox="" srcdoc>, so nothing the API returns can run in this page.
//
// The modules: one per view (overview, clients, client-detail, review, outbox, pipeline, catalog), and what they share:
// constants, dom, format, api, notices, session, routing (the hash routes) and pieces (badges, pagers, previews).

import { $ } from './dom.js';
import { onSignOutClick, onTokenSubmit } from './session.js';
import { navigation, onHashChange, route } from './routing.js';

function start() {
  $('token-form').addEventListener('submit', onTokenSubmit);
  $('sign-out').addEventListener('click', onSignOutClick);
  window.addEventListener('hashchange', onHashChange);
  document.addEventListener('keydown', (event) => {
    if (navigation.keyHandler && !event.defaultPrevented) navigation.keyHandler(event);
  });
  route();
}

start();
