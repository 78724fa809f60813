// Charts as SVG built here: monthly revenue bars with the units line, and ranked bars. Every
// chart has a text alternative (a title per mark and a summary for screen readers).

import { h } from './dom.js';
import { count, countShort, money, moneyShort, month } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Revenue per month as bars, units as a line on their own scale. `rows`: `{month, revenue, units}`. */
export function monthlyChart(rows) {
  const width = 720;
  const height = 260;
  const pad = { top: 16, right: 56, bottom: 36, left: 64 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const maxRevenue = Math.max(1, ...rows.map((r) => Number(r.revenue)));
  const maxUnits = Math.max(1, ...rows.map((r) => Number(r.units)));
  const step = innerW / Math.max(rows.length, 1);
  const barW = Math.max(2, Math.min(40, step * 0.7));
  const y = (v) => pad.top + innerH - (v / maxRevenue) * innerH;
  const yUnits = (v) => pad.top + innerH - (v / maxUnits) * innerH;
  const labelEvery = Math.ceil(rows.length / 12);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': `Revenue and units by month, ${rows.length} months` });
  for (const f of [0, 0.5, 1]) {
    const gy = pad.top + innerH - f * innerH;
    svg.append(s('line', { x1: pad.left, x2: width - pad.right, y1: gy, y2: gy, class: 'grid' }));
    svg.append(s('text', { x: pad.left - 8, y: gy + 4, class: 'axis', 'text-anchor': 'end' }, moneyShort(maxRevenue * f)));
    svg.append(s('text', { x: width - pad.right + 8, y: gy + 4, class: 'axis units' }, countShort(maxUnits * f)));
  }
  rows.forEach((r, i) => {
    const cx = pad.left + step * i + step / 2;
    const top = y(Number(r.revenue));
    svg.append(s('rect', { x: cx - barW / 2, y: top, width: barW, height: pad.top + innerH - top, class: 'bar', rx: 2 },
      s('title', null, `${month(r.month)}: ${money(r.revenue)}, ${count(r.units)} units`)));
    if (i % labelEvery === 0) svg.append(s('text', { x: cx, y: height - pad.bottom + 18, class: 'axis', 'text-anchor': 'middle' }, month(r.month)));
  });
  if (rows.length > 1) {
    const points = rows.map((r, i) => `${pad.left + step * i + step / 2},${yUnits(Number(r.units))}`).join(' ');
    svg.append(s('polyline', { points, class: 'line' }));
  }
  return h('figure', { class: 'chart-figure' }, svg,
    h('figcaption', null, h('span', { class: 'key bar' }, 'Revenue (EUR)'), h('span', { class: 'key line' }, 'Units')));
}

/** Ranked horizontal bars: `rows` with a `label` and a `value`, formatted by `format`. */
export function rankedBars(rows, format = money) {
  const max = Math.max(1, ...rows.map((r) => Number(r.value)));
  return h('ol', { class: 'ranked' }, rows.map((r) => {
    const fill = h('span', { class: 'fill' });
    fill.style.width = `${Math.max(1, (Number(r.value) / max) * 100)}%`;
    return h('li', null,
      h('span', { class: 'label', title: r.label }, r.label),
      h('span', { class: 'track', 'aria-hidden': 'true' }, fill),
      h('span', { class: 'value' }, format(r.value)));
  }));
}
