// The platform admin console on `api.<domain>`: sign in; the tenants and their state; create a
// tenant and watch its provisioning steps complete; suspend, activate, delete (confirmed by
// typing the subdomain); migrate every tenant; the audit log. Deletion and migration run as
// jobs on the platform: the console follows a job until every tenant is done.

import { api, flash, newKey, onSessionExpired, session } from './lib/api.js';
import { badge, busyButton, confirmDialog, field, h, input, notice, show, showError, table } from './lib/dom.js';
import { dateTime, duration } from './lib/format.js';
import { link, match, navigate, startRouter } from './lib/router.js';
import { frame, title } from './lib/shell.js';

const STEPS = {
  claim_subdomain: 'Claim the subdomain',
  create_database: 'Create the database',
  migrate: 'Create the tables',
  seed_defaults: 'Seed the vendor configurations',
  store_secret: 'Store the credentials',
  create_admin: 'Create the first admin',
  activate: 'Activate',
  welcome_email: 'Send the welcome email',
  audit: 'Record in the audit log',
};
const POLL_MS = 300;
const JOB_POLL_MS = 1000;

// Follows the job at `statusUrl` until every tenant is done, calling `onProgress` with each
// reading; the finished job with all of its per-tenant results.
async function followJob(statusUrl, onProgress = () => {}) {
  let job = await api('GET', statusUrl, { query: { limit: 1 } });
  while (job.status === 'running') {
    onProgress(job);
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    job = await api('GET', statusUrl, { query: { limit: 1 } });
  }
  const results = [];
  let cursor = null;
  do {
    const page = await api('GET', statusUrl, { query: { limit: 200, cursor } });
    results.push(...page.results);
    cursor = page.next_cursor;
  } while (cursor);
  return { ...job, results };
}

function jobProgress(job) {
  return h('p', { class: 'job-progress' },
    h('progress', { max: job.total || 1, value: job.done }),
    ` ${job.done} of ${job.total} tenants done: ${job.ok} ok, ${job.failed} failed, ${job.skipped} skipped`);
}

const pages = {
  '/': tenantsPage,
  '/tenants/new': newTenantPage,
  '/tenants/:id': tenantPage,
  '/migrations': migrationsPage,
  '/audit': auditPage,
};

export function start(root) {
  onSessionExpired(() => navigate('/signin', { replace: true }));
  startRouter(() => render(root));
}

async function render(root) {
  const path = location.pathname;
  if (path === '/signin' || !session.get()) {
    if (path !== '/signin') {
      navigate('/signin', { replace: true });
      return;
    }
    signInPage(root);
    return;
  }
  const items = [['/', 'Tenants'], ['/migrations', 'Migrations'], ['/audit', 'Audit log']];
  const section = (href) => (href === '/' ? path === '/' || path.startsWith('/tenants') : path.startsWith(href));
  const main = frame(root, {
    nav: h('ul', null, items.map(([href, text]) => h('li', null, link(href, text, section(href) ? { 'aria-current': 'page' } : {})))),
    menu: h('button', { type: 'button', class: 'secondary', onclick: () => { session.clear(); flash.set('You are signed out.'); navigate('/signin'); } }, 'Sign out'),
  });
  const found = match(pages, path);
  const message = flash.take();
  try {
    if (!found) show(main, h('h1', null, 'Page not found'));
    else await found.page(main, found.params);
  } catch (err) {
    show(main, notice('error', err.message));
  }
  if (message) main.prepend(notice('success', message));
  main.focus({ preventScroll: true });
}

function signInPage(root) {
  title('Console sign-in');
  const main = frame(root);
  const email = input('email', { type: 'email', autocomplete: 'username' });
  const password = input('password', { type: 'password', autocomplete: 'current-password' });
  const errors = h('div');
  const message = flash.take();
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', null, 'Platform console'),
    message ? notice('info', message) : null,
    errors,
    field('Email', email),
    field('Password', password),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    session.clear();
    try {
      session.set(await api('POST', '/admin/login', { body: { email: email.value.trim(), password: password.value } }));
      navigate('/', { replace: true });
    } catch (err) {
      showError(errors, err);
    }
  });
  show(main, form);
  email.focus();
}

async function tenantsPage(main, _params, cursor = null, shown = []) {
  title('Tenants');
  const page = await api('GET', '/admin/tenants', { query: { limit: 100, cursor } });
  const tenants = shown.concat(page.tenants);
  show(main,
    h('div', { class: 'page-head' }, h('h1', null, 'Tenants'), link('/tenants/new', 'Create tenant', { class: 'button primary' })),
    h('section', { class: 'card' },
      tenants.length
        ? table([
          { label: 'Company', value: (t) => link(`/tenants/${t.tenant_id}`, t.company_name) },
          { label: 'Subdomain', value: (t) => t.subdomain },
          { label: 'Status', value: (t) => badge(t.status) },
          { label: 'Schema', value: (t) => (t.schema_version == null ? '–' : `v${t.schema_version}`), class: 'num' },
          { label: 'Created', value: (t) => dateTime(t.created_at) },
        ], tenants)
        : h('p', { class: 'empty' }, 'No tenants yet.'),
      page.next_cursor ? busyButton('Show more', 'Loading…', () => tenantsPage(main, null, page.next_cursor, tenants), { class: 'secondary' }) : null));
}

function stepList(steps, running) {
  const done = new Map(steps.map((s) => [s.step, s]));
  const firstOpen = Object.keys(STEPS).find((k) => !done.has(k));
  return h('ol', { class: 'steps', 'aria-label': 'Provisioning steps' }, Object.entries(STEPS).map(([key, label]) => {
    const step = done.get(key);
    const state = step ? 'done' : running && key === firstOpen ? 'running' : 'waiting';
    return h('li', { class: `step ${state}`, dataset: { step: key } },
      h('span', { class: 'step-label' }, label),
      h('span', { class: 'step-state' }, step ? duration(step.duration_ms) : state === 'running' ? 'in progress…' : ''));
  }));
}

function newTenantPage(main) {
  title('Create tenant');
  const company = input('company_name', { autocomplete: 'organization' });
  const subdomain = input('subdomain', { autocomplete: 'off', pattern: '[a-z0-9-]+' });
  const adminName = input('admin_name', { autocomplete: 'off' });
  const adminEmail = input('admin_email', { type: 'email', autocomplete: 'off' });
  const errors = h('div');
  const progress = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create tenant');
  company.addEventListener('input', () => {
    if (!subdomain.dataset.touched) subdomain.value = company.value.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  });
  subdomain.addEventListener('input', () => { subdomain.dataset.touched = '1'; });
  // One key per request body: a retry of the same request reuses it, an edited one does not.
  let key = newKey();
  let keyFor = '';
  const form = h('form', { class: 'card form', novalidate: true },
    h('h1', null, 'Create tenant'),
    errors,
    field('Company name', company),
    field('Subdomain', subdomain, 'Lower-case letters, digits and hyphens: the workspace lives at <subdomain>.' + location.hostname.split('.').slice(1).join('.')),
    field('First admin’s name', adminName),
    field('First admin’s email', adminEmail, 'They receive a temporary password by email.'),
    h('div', { class: 'actions' }, submit),
    progress);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    submit.disabled = true;
    const wanted = subdomain.value.trim();
    const body = { company_name: company.value.trim(), subdomain: wanted, admin_name: adminName.value.trim(), admin_email: adminEmail.value.trim() };
    if (keyFor && keyFor !== JSON.stringify(body)) key = newKey();
    keyFor = JSON.stringify(body);
    let running = true;
    const watch = (async () => {
      // The list is oldest first: find its last page once, then watch that page.
      let cursor = null;
      for (;;) {
        const page = await api('GET', '/admin/tenants', { query: { limit: 100, cursor } }).catch(() => null);
        if (!page?.next_cursor) break;
        cursor = page.next_cursor;
      }
      while (running) {
        try {
          const { tenants } = await api('GET', '/admin/tenants', { query: { limit: 100, cursor } });
          const record = tenants.find((t) => t.subdomain === wanted);
          if (record && running) {
            show(progress, h('h2', null, 'Provisioning'), stepList(record.steps, true));
            progress.scrollIntoView({ block: 'nearest' });
          }
        } catch { /* the result below tells */ }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    })();
    try {
      const created = await api('POST', '/admin/tenants', { body, headers: { 'idempotency-key': key } });
      running = false;
      await watch;
      const tenant = await api('GET', `/admin/tenants/${created.tenant_id}`);
      show(progress,
        h('h2', null, 'Provisioning'),
        stepList(tenant.steps, false),
        notice('success', `${tenant.company_name} is ${tenant.status} at `, h('a', { href: created.access_url }, created.access_url),
          '. The admin’s temporary password has been emailed to them.'),
        link(`/tenants/${created.tenant_id}`, 'Open the tenant', { class: 'button secondary' }));
      progress.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      running = false;
      await watch;
      showError(errors, err);
      submit.disabled = false;
    }
  });
  show(main, h('p', null, link('/', '← All tenants')), form);
  company.focus();
}

async function tenantPage(main, { id }) {
  const tenant = await api('GET', `/admin/tenants/${encodeURIComponent(id)}`);
  title(tenant.company_name);
  const errors = h('div');
  const act = (verb, path, confirmText) => busyButton(verb, `${verb}…`, async () => {
    if (!(await confirmDialog({ title: `${verb} ${tenant.company_name}?`, body: confirmText, confirm: verb, danger: verb !== 'Activate' }))) return;
    try {
      await api('PATCH', `/admin/tenants/${tenant.tenant_id}/${path}`);
      flash.set(`${tenant.company_name}: ${path === 'suspend' ? 'suspended' : 'active'}.`);
      navigate(location.pathname, { replace: true });
    } catch (err) {
      showError(errors, err);
    }
  }, { class: verb === 'Activate' ? 'primary' : 'secondary' });
  const remove = busyButton('Delete', 'Deleting…', async () => {
    const ok = await confirmDialog({
      title: `Delete ${tenant.company_name}?`,
      body: 'Its database is archived to the bucket and dropped, its users and credentials removed. This cannot be undone.',
      confirm: 'Delete tenant',
      typed: tenant.subdomain,
    });
    if (!ok) return;
    try {
      const started = await api('DELETE', `/admin/tenants/${tenant.tenant_id}`);
      const job = await followJob(started.status_url);
      const [result] = job.results;
      if (job.status === 'failed') {
        show(errors, notice('error', result?.error || 'The deletion failed; see the audit log.'));
        return;
      }
      flash.set(`${tenant.company_name} was deleted.`);
      navigate('/', { replace: true });
    } catch (err) {
      showError(errors, err);
    }
  }, { class: 'danger' });
  show(main,
    h('p', null, link('/', '← All tenants')),
    h('div', { class: 'page-head' },
      h('h1', null, tenant.company_name, ' ', badge(tenant.status)),
      h('div', { class: 'actions' },
        tenant.status === 'active' ? act('Suspend', 'suspend', 'Its users can no longer sign in or use the workspace until it is activated again.') : null,
        tenant.status === 'suspended' ? act('Activate', 'activate', 'Its users can sign in again.') : null,
        tenant.status !== 'deleting' ? remove : null)),
    errors,
    tenant.failure ? notice('error', `Provisioning failed at ${tenant.failure.step}: ${tenant.failure.reason}`) : null,
    h('dl', { class: 'facts card' },
      [['Address', h('a', { href: tenant.access_url }, tenant.access_url)], ['Subdomain', tenant.subdomain], ['First admin', tenant.admin_email],
        ['Schema version', tenant.schema_version ?? '–'], ['Created', dateTime(tenant.created_at)], ['Changed', dateTime(tenant.updated_at)], ['Tenant id', tenant.tenant_id]]
        .map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h('section', { class: 'card' }, h('h2', null, 'Provisioning'), stepList(tenant.steps, false)),
    h('section', { class: 'card audit-of' }, h('h2', null, 'Audit log')));
  await auditTable(main.querySelector('.audit-of'), { tenant_id: tenant.tenant_id });
}

async function migrationsPage(main) {
  title('Migrations');
  const result = h('div', { 'aria-live': 'polite' });
  const errors = h('div');
  show(main,
    h('h1', null, 'Migrations'),
    h('section', { class: 'card' },
      h('p', null, 'Brings the tenant template and every tenant database to the latest schema. The tenants are migrated in the background, several at once; a failure is reported per tenant and never stops the others.'),
      errors,
      busyButton('Migrate all tenants', 'Migrating…', async () => {
        showError(errors, null);
        try {
          const started = await api('POST', '/admin/migrations');
          const job = await followJob(started.status_url, (progress) => show(result, jobProgress(progress)));
          const { latest_version: latest, template } = job.detail;
          show(result,
            notice(job.failed ? 'error' : 'success', `Latest version ${latest}: ${job.ok} tenants migrated, ${job.failed} failed, ${job.skipped} skipped. Template: v${template.from} → v${template.to}.`),
            table([
              { label: 'Tenant', value: (t) => t.subdomain },
              { label: 'Result', value: (t) => badge(t.outcome) },
              { label: 'From', value: (t) => t.report?.from ?? '–', class: 'num' },
              { label: 'To', value: (t) => t.report?.to ?? '–', class: 'num' },
              { label: 'Took', value: (t) => (t.duration_ms == null ? '–' : `${t.duration_ms} ms`), class: 'num' },
              { label: 'Error', value: (t) => t.error || '' },
            ], job.results));
        } catch (err) {
          showError(errors, err);
        }
      }, { class: 'primary' })),
    result);
}

async function auditPage(main) {
  title('Audit log');
  const section = h('section', { class: 'card' });
  show(main, h('h1', null, 'Audit log'), section);
  await auditTable(section, {});
}

async function auditTable(section, query, cursor = null, shown = []) {
  const heading = section.querySelector('h2');
  const page = await api('GET', '/admin/audit', { query: { ...query, limit: 50, cursor } });
  const events = shown.concat(page.events);
  show(section, heading,
    events.length
      ? table([
        { label: 'When', value: (e) => dateTime(e.at) },
        { label: 'Who', value: (e) => e.actor },
        { label: 'What', value: (e) => e.action },
        { label: 'Outcome', value: (e) => badge(e.outcome) },
        { label: 'Detail', value: (e) => e.detail || '' },
      ], events)
      : h('p', { class: 'empty' }, 'Nothing recorded yet.'),
    page.next_cursor ? busyButton('Show more', 'Loading…', () => auditTable(section, query, page.next_cursor, events), { class: 'secondary' }) : null);
}
