// The dashboard: the period's figures beside the previous period's, revenue and units by month,
// the best resellers and products, filters kept in the address (so a view can be shared),
// saved dashboards, and the CSV export of what is shown.

import { api, queryString } from '../lib/api.js';
import { monthlyChart, rankedBars } from '../lib/chart.js';
import { busyButton, confirmDialog, download, field, h, input, select, show, showError } from '../lib/dom.js';
import { count, money, month, percent } from '../lib/format.js';
import { link, navigate } from '../lib/router.js';
import { title } from '../lib/shell.js';

const FILTERS = ['from', 'to', 'vendor', 'reseller'];

/** The widgets a dashboard saved here shows (the layout of this page). */
const WIDGETS = [
  { kind: 'summary' },
  { kind: 'sales_chart', group_by: 'month' },
  { kind: 'top_resellers', metric: 'revenue', limit: 10 },
  { kind: 'top_products', metric: 'revenue', limit: 10 },
];

function currentFilters() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
}

export async function dashboardPage(main, { user }) {
  title('Dashboard');
  let filters = currentFilters();
  const [{ vendors }, { dashboards }] = await Promise.all([api('GET', '/api/vendors'), api('GET', '/api/dashboards')]);
  if (!location.search) {
    const preferred = dashboards.find((d) => d.is_default && d.mine) || dashboards.find((d) => d.is_default);
    if (preferred) filters = { ...filters, ...clean(preferred.config.filters) };
  }
  const errors = h('div');
  const body = h('div', { class: 'dashboard', 'aria-busy': 'true' });
  show(main,
    h('div', { class: 'page-head' },
      h('h1', null, 'Dashboard'),
      h('div', { class: 'actions' },
        busyButton('Export CSV', 'Exporting…', () => exportCsv(filters, errors), { class: 'secondary' }))),
    filterForm(filters, vendors, dashboards, user, errors),
    errors,
    body);
  await fill(body, filters, user);
}

function clean(filters) {
  return Object.fromEntries(FILTERS.map((k) => [k, filters?.[k] || '']));
}

function filterForm(filters, vendors, dashboards, user, errors) {
  const from = input('from', { type: 'month', value: filters.from });
  const to = input('to', { type: 'month', value: filters.to });
  const vendor = select('vendor', [['', 'All vendors'], ...vendors.map((v) => [v.vendor, v.vendor])], filters.vendor);
  const reseller = input('reseller', { value: filters.reseller, placeholder: 'All resellers' });
  const viewId = new URLSearchParams(location.search).get('view') || '';
  const current = dashboards.find((d) => d.dashboard_id === viewId);
  const saved = select('dashboard', [['', 'Saved views…'], ...dashboards.map((d) => [d.dashboard_id, `${d.name}${d.is_default ? ' (default)' : ''}${d.mine ? '' : ` · ${d.owner_email || 'shared'}`}`])], current ? viewId : '');
  const open = () => {
    const chosen = dashboards.find((d) => d.dashboard_id === saved.value);
    navigate(chosen ? `/${queryString({ ...clean(chosen.config.filters), view: chosen.dashboard_id })}` : '/');
  };
  const remove = current?.editable
    ? h('button', { type: 'button', class: 'secondary', onclick: () => deleteView(current, errors) }, 'Delete view')
    : null;
  const form = h('form', { class: 'filters card', 'aria-label': 'Filters' },
    field('From', from), field('To', to), field('Vendor', vendor), field('Reseller', reseller),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', class: 'secondary', onclick: () => navigate('/') }, 'Clear')),
    h('div', { class: 'saved' }, field('Saved views', saved),
      h('button', { type: 'button', class: 'secondary', onclick: open }, 'Open view'),
      h('button', { type: 'button', class: 'secondary', onclick: () => saveView(filters, dashboards, errors) }, 'Save view…'),
      remove));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`/${queryString({ from: from.value, to: to.value, vendor: vendor.value, reseller: reseller.value.trim() })}`);
  });
  return form;
}

async function saveView(filters, dashboards, errors) {
  const name = window.prompt('Name of this view');
  if (!name || !name.trim()) return;
  try {
    const created = await api('POST', '/api/dashboards', {
      body: { name: name.trim(), shared: false, is_default: dashboards.length === 0, config: { filters: nonEmpty(filters), widgets: WIDGETS } },
    });
    navigate(`/${queryString({ ...nonEmpty(filters), view: created.dashboard_id })}`, { replace: true });
  } catch (err) {
    showError(errors, err);
  }
}

async function deleteView(view, errors) {
  const ok = await confirmDialog({ title: `Delete the view “${view.name}”?`, body: view.shared ? 'It is shared: nobody sees it any more.' : 'Only the saved view goes; the data stays.', confirm: 'Delete view' });
  if (!ok) return;
  try {
    await api('DELETE', `/api/dashboards/${view.dashboard_id}`);
    navigate('/', { replace: true });
  } catch (err) {
    showError(errors, err);
  }
}

function nonEmpty(filters) {
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
}

async function fill(body, filters, user) {
  const query = nonEmpty(filters);
  const [summary, monthly, resellers, products] = await Promise.all([
    api('GET', '/api/analytics/summary', { query }),
    api('GET', '/api/analytics/sales', { query: { ...query, group_by: 'month', sort: 'key', limit: 120 } }),
    api('GET', '/api/analytics/top-resellers', { query: { from: query.from, to: query.to, vendor: query.vendor, metric: 'revenue', limit: 10 } }),
    api('GET', '/api/analytics/top-products', { query: { ...query, metric: 'revenue', limit: 10 } }),
  ]);
  body.removeAttribute('aria-busy');
  if (summary.current.units === 0 && Number(summary.current.revenue) === 0) {
    show(body, h('section', { class: 'card empty' },
      h('h2', null, 'No sales in this view yet'),
      h('p', null, location.search ? 'Nothing matches these filters. Widen the period or clear the filters.' : 'Upload a vendor sales file and its sales appear here.'),
      user.role !== 'viewer' ? link('/uploads', 'Upload a file', { class: 'button primary' }) : null));
    return;
  }
  const { current, previous, change } = summary;
  show(body,
    h('p', { class: 'period' }, `${month(current.period.from)} – ${month(current.period.to)}, compared with ${month(previous.period.from)} – ${month(previous.period.to)}`),
    h('section', { class: 'cards', 'aria-label': 'Summary' },
      card('Revenue', money(current.revenue), change.revenue_pct, 'revenue'),
      card('Units sold', count(current.units), change.units_pct, 'units'),
      card('Average price', money(current.average_price), change.average_price_pct, 'average-price'),
      card('Resellers', count(current.resellers), change.resellers_pct, 'resellers'),
      card('Products', count(current.products), change.products_pct, 'products')),
    h('section', { class: 'card' }, h('h2', null, 'Revenue and units by month'), monthlyChart(monthly.rows)),
    h('div', { class: 'columns' },
      h('section', { class: 'card' }, h('h2', null, 'Top resellers'),
        rankedBars(resellers.rows.map((r) => ({ label: r.reseller, value: r.revenue })))),
      h('section', { class: 'card' }, h('h2', null, 'Top products'),
        rankedBars(products.rows.map((r) => ({ label: r.product_name || r.product, value: r.revenue }))))));
}

function card(label, value, change, id) {
  const direction = change == null ? 'flat' : Number(change) > 0 ? 'up' : Number(change) < 0 ? 'down' : 'flat';
  return h('div', { class: 'stat', dataset: { stat: id } },
    h('span', { class: 'stat-label' }, label),
    h('strong', { class: 'stat-value' }, value),
    h('span', { class: `stat-change ${direction}` }, change == null ? 'no earlier data' : `${percent(change)} vs previous period`));
}

async function exportCsv(filters, errors) {
  showError(errors, null);
  try {
    const res = await api('GET', '/api/analytics/export.csv', { query: { ...nonEmpty(filters), dataset: 'sales', group_by: 'month' }, raw: true });
    const disposition = res.headers.get('content-disposition') || '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || 'sales.csv';
    download(await res.blob(), name);
  } catch (err) {
    showError(errors, err);
  }
}

