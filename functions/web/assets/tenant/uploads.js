// Uploads: choose a vendor and a file (or drop it), watch the PUT's progress, then the batch's
// status live until it is loaded or failed; its rejected rows with their reasons and a CSV of
// them; the history of batches; deleting a batch. Viewers see the history only.

import { api } from '../lib/api.js';
import { badge, busyButton, confirmDialog, download, field, h, notice, select, show, showError, table } from '../lib/dom.js';
import { bytes, count, dateTime, duration } from '../lib/format.js';
import { link, navigate } from '../lib/router.js';
import { title } from '../lib/shell.js';

const ACCEPT = '.csv,.xlsx,.xls';
const PAGE_SIZE = 20;
const POLL_MS = 1000;
const FINISHED = ['completed', 'failed'];

const canUpload = (user) => user.role === 'admin' || user.role === 'analyst';

export async function uploadsPage(main, { user }) {
  title('Uploads');
  const history = h('section', { class: 'card', 'aria-labelledby': 'history-title' });
  show(main,
    h('h1', null, 'Uploads'),
    canUpload(user) ? await uploadForm() : notice('info', 'You can read the upload history. Uploading needs the analyst or admin role.'),
    history);
  await batchHistory(history);
}

async function uploadForm() {
  const { vendors } = await api('GET', '/api/vendors');
  const active = vendors.filter((v) => v.active);
  const errors = h('div');
  const vendor = select('vendor', active.map((v) => [v.vendor, v.vendor]), active[0]?.vendor);
  const file = h('input', { type: 'file', name: 'file', accept: ACCEPT, class: 'visually-hidden', tabindex: '-1' });
  const chosen = h('span', { class: 'chosen' }, 'No file chosen');
  const progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Upload');
  let picked = null;
  const pick = (f) => {
    picked = f || null;
    chosen.textContent = picked ? `${picked.name} (${bytes(picked.size)})` : 'No file chosen';
    submit.disabled = !picked || !vendor.value;
  };
  file.addEventListener('change', () => pick(file.files[0]));
  const drop = h('label', { class: 'drop', for: file.id || (file.id = 'upload-file'), tabindex: '0' },
    h('strong', null, 'Drop a CSV or Excel file here'), h('span', null, 'or press to choose one (up to 100 MB)'), chosen);
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } });
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); pick(e.dataTransfer.files[0]); });
  const form = h('form', { class: 'card upload', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a sales file'),
    active.length ? null : notice('info', 'No vendor is configured yet. An admin adds one under Vendors.'),
    errors,
    field('Vendor', vendor, 'The vendor whose report this is: its configuration maps the columns.'),
    drop, file, progress,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!picked) return;
    showError(errors, null);
    submit.disabled = true;
    try {
      const ticket = await api('POST', '/api/uploads', { body: { vendor: vendor.value, file_name: picked.name, size_bytes: picked.size } });
      progress.hidden = false;
      await put(ticket, picked, (fraction) => { progress.value = Math.round(fraction * 100); });
      navigate(`/uploads/${ticket.batch_id}`);
    } catch (err) {
      showError(errors, err);
      progress.hidden = true;
      submit.disabled = false;
    }
  });
  return form;
}

/** The PUT to the presigned URL, with progress (fetch cannot report upload progress). */
function put(ticket, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', ticket.upload_url);
    for (const [name, value] of Object.entries(ticket.upload_headers || {})) {
      if (name.toLowerCase() !== 'content-length') xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener('load', () => (xhr.status >= 200 && xhr.status < 300
      ? resolve()
      : reject(new Error(`The file could not be stored (HTTP ${xhr.status}). Try again.`))));
    xhr.addEventListener('error', () => reject(new Error('The upload was interrupted. Check your connection and try again.')));
    xhr.send(file);
  });
}

async function batchHistory(section, status = '', cursor = null, rows = []) {
  const page = await api('GET', '/api/uploads/batches', { query: { limit: PAGE_SIZE, status, cursor } });
  const all = rows.concat(page.batches);
  const filter = select('status', [['', 'All'], ['pending', 'Pending'], ['processing', 'Processing'], ['completed', 'Completed'], ['failed', 'Failed']], status);
  filter.addEventListener('change', async () => {
    await batchHistory(section, filter.value);
    section.querySelector('select[name=status]')?.focus();
  });
  show(section,
    h('div', { class: 'page-head' }, h('h2', { id: 'history-title' }, 'History'), field('Status', filter)),
    all.length
      ? table([
        { label: 'File', value: (b) => link(`/uploads/${b.batch_id}`, b.file_name) },
        { label: 'Vendor', value: (b) => b.vendor },
        { label: 'Status', value: (b) => badge(b.status) },
        { label: 'Loaded', value: (b) => count(b.rows_loaded), class: 'num' },
        { label: 'Rejected', value: (b) => count(b.rows_rejected), class: 'num' },
        { label: 'By', value: (b) => b.uploaded_by_email || '–' },
        { label: 'Uploaded', value: (b) => dateTime(b.created_at) },
      ], all)
      : h('p', { class: 'empty' }, status ? 'No batches with this status.' : 'No uploads yet.'),
    page.next_cursor
      ? busyButton('Show more', 'Loading…', () => batchHistory(section, status, page.next_cursor, all), { class: 'secondary' })
      : null);
}

/** One batch: live until finished, then its outcome and rejected rows. */
export async function batchPage(main, { params, user }) {
  title('Upload');
  const id = params.id;
  const view = h('div');
  show(main, h('p', null, link('/uploads', '← All uploads')), view);
  const batch = await api('GET', `/api/uploads/batches/${encodeURIComponent(id)}`);
  renderBatch(view, batch, user);
  // Followed in the background: the page is usable (and focused) while the batch runs.
  follow(view, batch, user).catch((err) => view.isConnected && view.append(notice('error', err.message)));
}

async function follow(view, first, user) {
  let batch = first;
  while (!FINISHED.includes(batch.status) && view.isConnected) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (!view.isConnected) return;
    batch = await api('GET', `/api/uploads/batches/${encodeURIComponent(batch.batch_id)}`);
    renderBatch(view, batch, user);
  }
  if (batch.rows_rejected > 0 && view.isConnected) await rejectedRows(view, batch);
}

function renderBatch(view, b, user) {
  title(b.file_name);
  const errors = h('div');
  const facts = [
    ['Status', badge(b.status)],
    ['Vendor', `${b.vendor} (configuration v${b.vendor_config_version})`],
    ['Rows in the file', count(b.rows_total)],
    ['Rows loaded', count(b.rows_loaded)],
    ['Rows rejected', count(b.rows_rejected)],
    ['Size', bytes(b.size_bytes)],
    ['Uploaded', `${dateTime(b.created_at)} by ${b.uploaded_by_email || 'unknown'}`],
    ['Processing took', b.started_at && b.completed_at ? duration(new Date(b.completed_at) - new Date(b.started_at)) : '–'],
  ];
  const live = !FINISHED.includes(b.status);
  show(view,
    h('div', { class: 'page-head' },
      h('h1', null, b.file_name),
      canUpload(user) && !live ? busyButton('Delete batch', 'Deleting…', () => deleteBatch(b, errors), { class: 'danger' }) : null),
    errors,
    live ? notice('info', b.status === 'pending' ? 'Waiting for the file to be processed…' : 'Processing… this page updates by itself.') : null,
    b.status === 'failed' ? notice('error', h('strong', null, 'The file could not be loaded: '), b.failure_reason || 'unknown reason') : null,
    b.status === 'completed' ? notice('success', `${count(b.rows_loaded)} rows loaded${b.rows_rejected ? `, ${count(b.rows_rejected)} rejected` : ''}.`) : null,
    h('dl', { class: 'facts card' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
}

async function deleteBatch(b, errors) {
  const ok = await confirmDialog({
    title: 'Delete this batch?',
    body: `The ${count(b.rows_loaded)} rows loaded from ${b.file_name} are removed from your data and analytics. This cannot be undone.`,
    confirm: 'Delete batch',
  });
  if (!ok) return;
  try {
    await api('DELETE', `/api/uploads/batches/${encodeURIComponent(b.batch_id)}`);
    navigate('/uploads');
  } catch (err) {
    showError(errors, err);
  }
}

async function rejectedRows(view, b, cursor = null, shown = []) {
  const page = await api('GET', `/api/uploads/batches/${encodeURIComponent(b.batch_id)}/errors`, { query: { limit: 50, cursor } });
  const rows = shown.concat(page.errors);
  const section = view.querySelector('.rejected') || view.appendChild(h('section', { class: 'card rejected', 'aria-labelledby': 'rejected-title' }));
  const errors = h('div');
  show(section,
    h('div', { class: 'page-head' },
      h('h2', { id: 'rejected-title' }, 'Rejected rows'),
      busyButton('Download rejected rows (CSV)', 'Preparing…', async () => {
        try {
          const res = await api('GET', `/api/uploads/batches/${encodeURIComponent(b.batch_id)}/errors.csv`, { raw: true });
          download(await res.blob(), `${b.file_name.replace(/\.[^.]+$/, '')}-rejected.csv`);
        } catch (err) {
          showError(errors, err);
        }
      }, { class: 'secondary' })),
    h('p', { class: 'hint' }, 'Fix these rows in your file and upload it again.'),
    errors,
    table([
      { label: 'Row', value: (e) => (e.row_number == null ? '–' : count(e.row_number)), class: 'num' },
      { label: 'Column', value: (e) => e.column || '–' },
      { label: 'Problem', value: (e) => e.message },
      { label: 'Values', value: (e) => (e.raw ? Object.entries(e.raw).map(([k, v]) => `${k}: ${v}`).join(' · ') : '–'), class: 'raw' },
    ], rows),
    page.next_cursor ? busyButton('Show more', 'Loading…', () => rejectedRows(view, b, page.next_cursor, rows), { class: 'secondary' }) : null);
}
