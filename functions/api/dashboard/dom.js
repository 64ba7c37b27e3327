// Building the page: every string becomes a text node (h), never HTML.

export const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an element. Strings and numbers among the children become text nodes, never markup. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) { // listeners only: an on* attribute would be inline script
      if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    } else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children, with h()'s rules (null and false are left out; strings are text). */
export function fill(el, ...children) {
  el.replaceChildren();
  return build(el, null, children);
}

export function $(id) {
  return document.getElementById(id);
}

export let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}
