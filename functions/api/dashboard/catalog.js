// The shop's catalog: products by category and stock, a page at a time. No pictures here (the list stays light; an
// email's preview shows its products' pictures), and a title is text, never markup.

import { CATALOG_PAGE_SIZE, SEARCH_DELAY_MS, STOCK_LABELS } from './constants.js';
import { h } from './dom.js';
import { formatMoney, time } from './format.js';
import { api, query } from './api.js';
import { clearErrors, showLoadError } from './notices.js';
import { catalogHref } from './routing.js';
import { pageHeader } from './pieces.js';
import { debounce, emptyRow, labelCells } from './clients.js';

export async function renderCatalog(ctx, rest, params) {
  const stock = params.get('inStock') || '';
  const filters = { category: (params.get('category') || '').trim(), inStock: Object.hasOwn(STOCK_LABELS, stock) ? stock : '' };
  const errorSlot = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'data stack', testid: 'catalog-table' },
    h('caption', { class: 'visually-hidden' }, 'Products'),
    h('thead', {}, h('tr', {}, ['Title', 'Product id', 'Category', 'Price', 'In stock', 'Updated']
      .map((title) => h('th', { scope: 'col', class: title === 'Price' ? 'num' : null }, title)))),
    tbody);
  const more = h('button', { type: 'button', testid: 'catalog-more', hidden: true, onclick: () => load(nextCursor) }, 'Load more');
  let nextCursor = null;
  let loadSerial = 0;

  const category = h('input', {
    id: 'category-filter', name: 'category', type: 'search', testid: 'category-filter', value: filters.category,
    placeholder: 'e.g. tops', autocomplete: 'off', spellcheck: 'false',
    oninput: debounce(onFilterChange, SEARCH_DELAY_MS),
  });
  const stockSelect = h('select', { id: 'stock-filter', name: 'inStock', testid: 'stock-filter', onchange: onFilterChange },
    Object.entries(STOCK_LABELS).map(([value, text]) => h('option', { value, selected: filters.inStock === value }, text)));

  function onFilterChange() {
    const chosen = { category: category.value.trim(), inStock: stockSelect.value };
    if (chosen.category === filters.category && chosen.inStock === filters.inStock) return;
    Object.assign(filters, chosen);
    history.replaceState(null, '', catalogHref(filters)); // the hash keeps the filters (no hashchange: no redraw)
    load(null);
  }

  /** The first page (cursor null) replaces the rows; a later one (Load more) is appended. */
  async function load(cursor) {
    loadSerial += 1;
    const serial = loadSerial;
    table.setAttribute('aria-busy', 'true');
    more.disabled = true;
    clearErrors(errorSlot);
    try {
      const page = await api('GET', `/api/products${query({ limit: CATALOG_PAGE_SIZE, ...filters, cursor })}`);
      if (serial !== loadSerial) return; // the filters changed meanwhile
      const rows = (Array.isArray(page.items) ? page.items : []).map((product) => productRow(product, filters));
      nextCursor = page.nextCursor || null;
      if (cursor) tbody.append(...rows);
      else if (rows.length) tbody.replaceChildren(...rows);
      else tbody.replaceChildren(emptyRow(6, nextCursor ? 'None on this page; load more.' : 'No products match.'));
      labelCells(table);
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

  await load(null);
  ctx.mount(h('section', { class: 'page', testid: 'catalog' },
    pageHeader('Catalog'),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: 'category-filter' }, 'Category (exact name)'), category),
      h('div', { class: 'field' }, h('label', { for: 'stock-filter' }, 'Stock'), stockSelect)),
    errorSlot,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'form-actions' }, more)));
}

export function productRow(product, filters) {
  return h('tr', { testid: 'product-row', 'data-product-id': String(product.productId) },
    h('td', { class: 'wrap' }, productLink(product)),
    h('td', {}, h('code', {}, String(product.productId))),
    h('td', {}, product.category
      ? h('a', { href: catalogHref({ ...filters, category: product.category }), title: 'Only this category' }, String(product.category))
      : '\u2014'),
    h('td', { class: 'num' }, formatMoney(product.price, product.currency)),
    h('td', {}, product.inStock === true ? 'Yes' : product.inStock === false ? 'No' : '\u2014'),
    h('td', {}, time(product.updatedAt)));
}

/** The title, linking to the product's page in the shop when that is a web address (never javascript: or the like). */
export function productLink(product) {
  const title = product.title ? String(product.title) : String(product.productId);
  if (!/^https?:\/\//i.test(String(product.url || ''))) return title;
  return h('a', { href: String(product.url), target: '_blank', rel: 'noopener noreferrer' }, title);
}
