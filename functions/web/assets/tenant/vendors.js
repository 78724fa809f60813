// Vendors: every user reads the configurations that map each vendor's report; admins edit them
// (each save is a new version; the API's validation messages appear next to their fields),
// deactivate them, and keep the monthly FX rates that convert other currencies to EUR.

import { api } from '../lib/api.js';
import { badge, busyButton, confirmDialog, field, h, input, notice, select, show, showError, table } from '../lib/dom.js';
import { dateTime } from '../lib/format.js';
import { link, navigate } from '../lib/router.js';
import { title } from '../lib/shell.js';

const FIELDS = ['product_ean', 'functional_name', 'quantity', 'sales_eur', 'reseller', 'month', 'year', 'date', 'country', 'city', 'order_id', 'ignore'];

export async function vendorsPage(main, { user }) {
  title('Vendors');
  const admin = user.role === 'admin';
  const [{ vendors }, fx] = await Promise.all([api('GET', '/api/vendors'), api('GET', '/api/fx-rates')]);
  const name = input('name', { placeholder: 'e.g. acme', pattern: '[a-z0-9_-]+' });
  show(main,
    h('h1', null, 'Vendors'),
    h('section', { class: 'card' },
      h('h2', null, 'Configurations'),
      vendors.length
        ? table([
          { label: 'Vendor', value: (v) => link(`/vendors/${encodeURIComponent(v.vendor)}`, v.vendor) },
          { label: 'Loads into', value: (v) => v.config.target || 'sellout' },
          { label: 'Currency', value: (v) => v.config.currency_column ? `${v.config.currency} or column “${v.config.currency_column}”` : v.config.currency },
          { label: 'Version', value: (v) => `v${v.version}`, class: 'num' },
          { label: 'State', value: (v) => badge(v.active ? 'active' : 'inactive') },
          { label: 'Changed', value: (v) => dateTime(v.updated_at) },
        ], vendors)
        : h('p', { class: 'empty' }, 'No vendors yet.'),
      admin
        ? h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); if (name.value.trim()) navigate(`/vendors/${encodeURIComponent(name.value.trim().toLowerCase())}`); } },
          field('New vendor', name), h('button', { type: 'submit', class: 'secondary' }, 'Configure'))
        : null),
    fxSection(fx.rates, admin));
}

function fxSection(rates, admin) {
  const errors = h('div');
  const currency = input('currency', { placeholder: 'PLN', maxlength: 3, autocomplete: 'off' });
  const monthInput = input('month', { type: 'month' });
  const rate = input('rate', { inputmode: 'decimal', placeholder: '0.2315' });
  const form = admin
    ? h('form', { class: 'inline' }, field('Currency', currency), field('Month', monthInput), field('1 unit in EUR', rate),
      h('button', { type: 'submit', class: 'secondary' }, 'Save rate'))
    : null;
  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      await api('PUT', '/api/fx-rates', { body: { rates: [{ currency: currency.value.trim().toUpperCase(), month: monthInput.value, rate_to_eur: rate.value.trim().replace(',', '.') }] } });
      navigate('/vendors', { replace: true });
    } catch (err) {
      showError(errors, err);
    }
  });
  return h('section', { class: 'card' },
    h('h2', null, 'FX rates to EUR'),
    h('p', { class: 'hint' }, 'Amounts in another currency are converted with the rate of their month. A row whose month has no rate is rejected, never converted 1:1.'),
    rates.length
      ? table([
        { label: 'Currency', value: (r) => r.currency },
        { label: 'Month', value: (r) => r.month },
        { label: '1 unit in EUR', value: (r) => r.rate_to_eur, class: 'num' },
      ], rates)
      : h('p', { class: 'empty' }, 'No rates: every vendor reports in EUR.'),
    errors, form);
}

/** One vendor: read-only for viewers and analysts, a validated editor for admins. */
export async function vendorPage(main, { params, user }) {
  const name = params.name;
  title(`Vendor ${name}`);
  let vendor = null;
  try {
    vendor = await api('GET', `/api/vendors/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err.code !== 'vendor_not_found' || user.role !== 'admin') throw err;
  }
  const admin = user.role === 'admin';
  const config = vendor?.config || { target: 'sellout', header_row: 0, currency: 'EUR', decimal_separator: '.', column_mapping: {}, validation_rules: {} };
  const editor = configForm(config, admin);
  const errors = h('div');
  const save = h('button', { type: 'submit', class: 'primary' }, vendor ? 'Save as a new version' : 'Create vendor');
  const form = h('form', { class: 'vendor-form', novalidate: true }, errors, editor.element, admin ? h('div', { class: 'actions' }, save) : null);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    editor.clearErrors();
    save.disabled = true;
    try {
      await api('PUT', `/api/vendors/${encodeURIComponent(name)}`, { body: editor.value() });
      navigate(`/vendors/${encodeURIComponent(name)}`, { replace: true });
    } catch (err) {
      const rest = err.code === 'invalid_vendor_config' ? editor.showErrors(err.message) : [err.message];
      if (rest.length) showError(errors, new Error(rest.join('; ')));
      else showError(errors, new Error('Fix the fields marked below.'));
    } finally {
      save.disabled = false;
    }
  });
  show(main,
    h('p', null, link('/vendors', '← All vendors')),
    h('div', { class: 'page-head' },
      h('h1', null, `Vendor ${name}`),
      vendor ? h('span', null, badge(vendor.active ? 'active' : 'inactive'), ` v${vendor.version}`) : badge('new'),
      admin && vendor?.active ? busyButton('Deactivate', 'Deactivating…', () => deactivate(name, errors), { class: 'danger' }) : null),
    admin ? null : notice('info', 'Only admins can change a vendor configuration.'),
    form);
}

async function deactivate(name, errors) {
  const ok = await confirmDialog({ title: `Deactivate ${name}?`, body: 'New uploads for this vendor are refused; loaded data stays. Saving the configuration again reactivates it.', confirm: 'Deactivate' });
  if (!ok) return;
  try {
    await api('DELETE', `/api/vendors/${encodeURIComponent(name)}`);
    navigate(`/vendors/${encodeURIComponent(name)}`, { replace: true });
  } catch (err) {
    showError(errors, err);
  }
}

/** The editor of a `VendorConfig`: fields by key, `value()` the config, errors by field path. */
function configForm(config, editable) {
  const rules = config.validation_rules || {};
  const controls = {
    target: select('target', [['sellout', 'Sell-out (resellers)'], ['ecommerce', 'E-commerce (orders)']], config.target || 'sellout'),
    header_row: input('header_row', { type: 'number', min: 0, value: String(config.header_row ?? 0) }),
    sheet: input('sheet', { value: config.sheet || '', placeholder: 'first sheet' }),
    delimiter: select('delimiter', [['', 'Detect'], [',', 'Comma'], [';', 'Semicolon'], ['\t', 'Tab'], ['|', 'Pipe']], config.delimiter || ''),
    decimal_separator: select('decimal_separator', [['.', '1234.56'], [',', '1234,56']], config.decimal_separator || '.'),
    thousands_separator: select('thousands_separator', [['', 'None'], [',', 'Comma'], ['.', 'Dot'], [' ', 'Space'], ["'", 'Apostrophe']], config.thousands_separator || ''),
    currency: input('currency', { value: config.currency || 'EUR', maxlength: 3 }),
    currency_column: input('currency_column', { value: config.currency_column || '', placeholder: 'none' }),
    date_formats: h('textarea', { name: 'date_formats', rows: 2, placeholder: 'One per line, e.g. %d.%m.%Y' }, (config.date_formats || []).join('\n')),
    pivot_format: h('input', { type: 'checkbox', name: 'pivot_format', checked: Boolean(config.pivot_format) }),
    pivot: input('pivot', { value: config.pivot?.year_column ?? (config.pivot?.year != null ? String(config.pivot.year) : ''), placeholder: '2024, or the year column’s header' }),
    'validation_rules.ean_length': input('ean_length', { type: 'number', min: 0, value: rules.ean_length == null ? '' : String(rules.ean_length) }),
    'validation_rules.non_negative_quantity': h('input', { type: 'checkbox', name: 'non_negative_quantity', checked: Boolean(rules.non_negative_quantity) }),
    'validation_rules.year_range': input('year_range', { value: rules.year_range ? rules.year_range.join('–') : '', placeholder: '2000–2100' }),
    'validation_rules.required_fields': input('required_fields', { value: (rules.required_fields || []).join(', '), placeholder: 'product_ean, reseller' }),
    'validation_rules.allowed_resellers': h('textarea', { name: 'allowed_resellers', rows: 3, placeholder: 'One per line; empty accepts any' }, (rules.allowed_resellers || []).join('\n')),
  };
  const labels = {
    target: 'Loads into', header_row: 'Header row (0 = first line)', sheet: 'Excel sheet', delimiter: 'CSV delimiter',
    decimal_separator: 'Decimal separator', thousands_separator: 'Thousands separator', currency: 'Currency (ISO code)',
    currency_column: 'Currency column', date_formats: 'Date formats', pivot_format: 'Months as columns (pivot)',
    pivot: 'Pivot year', 'validation_rules.ean_length': 'EAN length', 'validation_rules.non_negative_quantity': 'Quantities may not be negative',
    'validation_rules.year_range': 'Accepted years', 'validation_rules.required_fields': 'Required fields',
    'validation_rules.allowed_resellers': 'Allowed resellers',
  };
  const fields = Object.fromEntries(Object.entries(controls).map(([key, control]) => {
    if (!editable) control.disabled = true;
    return [key, field(labels[key], control)];
  }));
  const mapping = mappingEditor(config.column_mapping || {}, editable);
  fields.column_mapping = mapping.field;
  const element = h('div', { class: 'config' },
    h('fieldset', { class: 'card' }, h('legend', null, 'File'), ['target', 'header_row', 'sheet', 'delimiter', 'decimal_separator', 'thousands_separator'].map((k) => fields[k])),
    h('fieldset', { class: 'card' }, h('legend', null, 'Columns'), fields.column_mapping),
    h('fieldset', { class: 'card' }, h('legend', null, 'Amounts and dates'), ['currency', 'currency_column', 'date_formats', 'pivot_format', 'pivot'].map((k) => fields[k])),
    h('fieldset', { class: 'card' }, h('legend', null, 'Checks on every row'), Object.keys(fields).filter((k) => k.startsWith('validation_rules.')).map((k) => fields[k])));
  const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
  const names = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
  return {
    element,
    value() {
      const v = (k) => controls[k].value.trim();
      const pivotText = v('pivot');
      const years = v('validation_rules.year_range').split(/[-–]/).map((s) => s.trim()).filter(Boolean);
      // Fields this form does not show (e.g. a month range) are kept as stored.
      return {
        ...config,
        target: v('target'),
        header_row: Number(v('header_row') || 0),
        sheet: v('sheet') || null,
        delimiter: controls.delimiter.value || null,
        decimal_separator: v('decimal_separator'),
        thousands_separator: controls.thousands_separator.value || null,
        currency: v('currency').toUpperCase(),
        currency_column: v('currency_column') || null,
        date_formats: lines(controls.date_formats.value),
        pivot_format: controls.pivot_format.checked,
        pivot: !pivotText ? null : /^\d{4}$/.test(pivotText) ? { year: Number(pivotText) } : { year_column: pivotText },
        column_mapping: mapping.value(),
        validation_rules: {
          ...rules,
          ean_length: v('validation_rules.ean_length') ? Number(v('validation_rules.ean_length')) : null,
          non_negative_quantity: controls['validation_rules.non_negative_quantity'].checked,
          year_range: years.length ? years.map(Number) : null,
          required_fields: names(v('validation_rules.required_fields')),
          allowed_resellers: lines(controls['validation_rules.allowed_resellers'].value),
        },
      };
    },
    clearErrors() {
      for (const f of Object.values(fields)) f.setError('');
    },
    /** Puts each `path: message` of the API's answer next to its field; returns the others. */
    showErrors(message) {
      const unplaced = [];
      const byField = {};
      for (const issue of message.split('; ')) {
        const [path, ...text] = issue.split(': ');
        const key = Object.keys(fields).sort((a, b) => b.length - a.length).find((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
        if (key && text.length) (byField[key] ||= []).push(key === 'column_mapping' ? `${path.slice(15) || 'mapping'}: ${text.join(': ')}` : text.join(': '));
        else unplaced.push(issue);
      }
      for (const [key, texts] of Object.entries(byField)) fields[key].setError(texts.join('; '));
      const first = Object.keys(byField)[0];
      if (first) fields[first].control.focus();
      return unplaced;
    },
  };
}

/** Header text → field, one row each; rows can be added and removed. */
function mappingEditor(mapping, editable) {
  const rows = h('tbody');
  const addRow = (header = '', target = 'ignore') => {
    const headerInput = input('header', { value: header, 'aria-label': 'Header in the file', disabled: !editable });
    const targetSelect = select('field', FIELDS.map((f) => [f, f.replace(/_/g, ' ')]), target, { 'aria-label': 'Field', disabled: !editable });
    const row = h('tr', null, h('td', null, headerInput), h('td', null, targetSelect),
      h('td', null, editable ? h('button', { type: 'button', class: 'link', onclick: () => row.remove(), 'aria-label': `Remove ${header || 'column'}` }, 'Remove') : null));
    rows.append(row);
  };
  for (const [header, target] of Object.entries(mapping)) addRow(header, target);
  const add = editable ? h('button', { type: 'button', class: 'secondary', onclick: () => addRow() }, 'Add column') : null;
  const control = h('div', { class: 'mapping', tabindex: '-1' },
    h('table', null, h('thead', null, h('tr', null, h('th', null, 'Header in the file'), h('th', null, 'Field'), h('th', null, h('span', { class: 'visually-hidden' }, 'Actions')))), rows), add);
  return {
    field: field('Column mapping', control, 'Headers are matched ignoring case and surrounding spaces.'),
    value() {
      return Object.fromEntries([...rows.querySelectorAll('tr')]
        .map((tr) => [tr.querySelector('input').value.trim(), tr.querySelector('select').value])
        .filter(([header]) => header));
    },
  };
}
