// The pipeline: queue depths, dead letters, redrives.

import { REDRIVE_MAX } from './constants.js';
import { $, fill, h } from './dom.js';
import { formatAge, formatNumber, time } from './format.js';
import { api, enc } from './api.js';
import { clearErrors, notify, showError, withBusy } from './notices.js';
import { pageHeader } from './pieces.js';
import { emptyRow, labelCells } from './clients.js';

export async function renderPipeline(ctx) {
  const root = h('section', { class: 'page', testid: 'pipeline' });
  const results = new Map(); // queue name: the last redrive's outcome, shown in its row

  async function load() {
    const pipeline = await api('GET', '/api/pipeline');
    fill(root, pipelineContent(pipeline));
  }

  function pipelineContent(pipeline) {
    const errorSlot = h('div');
    const refresh = h('button', { type: 'button', testid: 'refresh', onclick: onRefresh }, 'Refresh');
    const queues = Array.isArray(pipeline.queues) ? pipeline.queues : [];
    async function onRefresh() {
      clearErrors(errorSlot);
      await withBusy(refresh, () => load().catch((error) => showError(errorSlot, error)));
    }
    return [
      pageHeader('Pipeline', h('span', { class: 'muted' }, 'checked ', time(pipeline.checkedAt)), refresh),
      errorSlot,
      h('div', { class: 'table-wrap' }, queuesTable(queues)),
    ];
  }

  function queuesTable(queues) {
    const table = h('table', { class: 'data stack', testid: 'queues-table' },
      h('caption', { class: 'visually-hidden' }, 'Queues and dead-letter queues'),
      h('thead', {}, h('tr', {}, ['Queue', 'Kind', 'Waiting', 'In flight', 'Delayed', 'Oldest message', 'Action']
        .map((title, i) => h('th', { scope: 'col', class: i >= 2 && i <= 5 ? 'num' : null }, title)))),
      h('tbody', {}, queues.length ? queues.map(queueRow) : emptyRow(7, 'No queues reported.')));
    labelCells(table);
    return table;
  }

  function queueRow(queue) {
    const deadLetter = queue.kind === 'dead-letter';
    const alert = deadLetter && (queue.visible > 0 || queue.inFlight > 0 || queue.delayed > 0);
    return h('tr', { class: alert ? 'dlq-alert' : null, testid: 'queue-row', 'data-queue': queue.name },
      h('th', { scope: 'row' }, String(queue.name), alert ? h('span', { class: 'flag flag-problem' }, ' \u26a0 needs attention') : null),
      h('td', {}, deadLetter ? 'dead-letter' : String(queue.kind || 'queue')),
      h('td', { class: 'num' }, formatNumber(queue.visible)),
      h('td', { class: 'num' }, formatNumber(queue.inFlight)),
      h('td', { class: 'num' }, formatNumber(queue.delayed)),
      h('td', { class: 'num' }, queue.oldestAgeSeconds == null ? '\u2014' : formatAge(queue.oldestAgeSeconds)),
      h('td', {}, deadLetter ? redriveCell(queue) : null, results.has(queue.name) ? h('div', { class: 'result' }, results.get(queue.name)) : null));
  }

  function redriveCell(queue) {
    if (!queue.redrivesTo) return h('span', { class: 'muted' }, 'Cannot be redriven: fix the item and put it again.');
    const errorSlot = h('div');
    const button = h('button', { type: 'button', testid: `redrive-${queue.name}`, onclick: onRedrive }, `Redrive to ${queue.redrivesTo}`);
    async function onRedrive() {
      const waiting = formatNumber(queue.visible);
      if (!window.confirm(`Move up to ${REDRIVE_MAX} of the ${waiting} messages in ${queue.name} back to ${queue.redrivesTo}?`)) return;
      await withBusy(button, async () => {
        try {
          const outcome = await api('POST', `/api/pipeline/dead-letters/${enc(queue.name)}/redrive`, { max: REDRIVE_MAX });
          const text = `Moved ${formatNumber(outcome.moved)} to ${queue.redrivesTo}; ${formatNumber(outcome.remaining)} remaining.`;
          results.set(queue.name, text);
          notify(`${queue.name}: ${text}`, 'success');
          await load();
        } catch (error) {
          showError(errorSlot, error);
        }
      });
    }
    return h('div', {}, button, errorSlot);
  }

  await load();
  ctx.mount(root);
}
