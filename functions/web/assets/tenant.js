// A tenant's application on `<tenant>.<domain>`: sign-in, the forced password change, and the
// pages of a signed-in user, by role (a viewer reads; analysts also upload; admins also manage
// vendors, rates and users).

import { api, flash, onSessionExpired, session } from './lib/api.js';
import { field, h, input, notice, show, showError } from './lib/dom.js';
import { link, match, navigate, startRouter } from './lib/router.js';
import { frame, fullPage, title } from './lib/shell.js';
import { dashboardPage } from './tenant/dashboard.js';
import { batchPage, uploadsPage } from './tenant/uploads.js';
import { usersPage } from './tenant/users.js';
import { vendorPage, vendorsPage } from './tenant/vendors.js';

const pages = {
  '/': dashboardPage,
  '/uploads': uploadsPage,
  '/uploads/:id': batchPage,
  '/vendors': vendorsPage,
  '/vendors/:name': vendorPage,
  '/users': usersPage,
  '/account/password': passwordPage,
};

/** Why a workspace cannot be used, by the API's code. */
const unavailable = {
  tenant_suspended: 'Workspace suspended',
  tenant_not_found: 'No such workspace',
  tenant_unavailable: 'Workspace unavailable',
};

export async function start(root) {
  let workspace;
  try {
    workspace = await api('GET', '/api/health');
  } catch (err) {
    fullPage(root, unavailable[err.code] || 'Something went wrong', err.message,
      h('a', { class: 'button', href: appUrl() }, 'Back to sign-in'));
    return;
  }
  const app = { root, workspace, user: null };
  onSessionExpired(() => navigate(`/signin${location.pathname === '/signin' ? '' : `?next=${encodeURIComponent(location.pathname + location.search)}`}`, { replace: true }));
  startRouter(() => render(app));
}

/** The central sign-in on `app.` of this domain. */
function appUrl() {
  const [, ...parent] = location.hostname.split('.');
  return `${location.protocol}//app.${parent.join('.')}${location.port ? `:${location.port}` : ''}/`;
}

async function render(app) {
  const path = location.pathname;
  const current = session.get();
  if (path === '/signin' || !current) {
    if (path !== '/signin') {
      navigate(`/signin?next=${encodeURIComponent(path + location.search)}`, { replace: true });
      return;
    }
    app.user = null;
    signInPage(app);
    return;
  }
  if (current.password_change_required && path !== '/account/password') {
    navigate('/account/password', { replace: true });
    return;
  }
  try {
    app.user = app.user || (await api('GET', '/api/auth/me'));
  } catch (err) {
    if (err.status !== 401) fullPage(app.root, 'Something went wrong', err.message);
    return;
  }
  const main = shell(app, path);
  const found = match(pages, path);
  if (!found) {
    title('Not found');
    show(main, h('section', { class: 'card' }, h('h1', null, 'Page not found'), link('/', 'Go to the dashboard')));
    return;
  }
  const message = flash.take();
  try {
    await found.page(main, { ...app, params: found.params, forced: current.password_change_required });
  } catch (err) {
    show(main, notice('error', err.message));
  }
  if (message) main.prepend(notice('success', message));
  main.focus({ preventScroll: true });
}

/** The frame of a signed-in page: navigation by role and the user's menu. */
function shell(app, path) {
  const { user } = app;
  const items = [['/', 'Dashboard'], ['/uploads', 'Uploads'], ['/vendors', 'Vendors']];
  if (user.role === 'admin') items.push(['/users', 'Users']);
  const section = (href) => (href === '/' ? path === '/' : path.startsWith(href));
  const nav = h('ul', null, items.map(([href, text]) => h('li', null,
    link(href, text, section(href) ? { 'aria-current': 'page' } : {}))));
  const menu = h('details', { class: 'menu' },
    h('summary', null, h('span', { class: 'who' }, user.full_name || user.email), h('span', { class: 'role' }, user.role)),
    h('div', { class: 'menu-items' },
      h('p', { class: 'menu-email' }, user.email),
      h('p', { class: 'menu-email' }, app.workspace.subdomain),
      link('/account/password', 'Change password'),
      h('button', { type: 'button', class: 'link', onclick: () => signOut(app) }, 'Sign out')));
  menu.addEventListener('click', (e) => { if (e.target.closest('a,button')) menu.open = false; });
  return frame(app.root, { nav, menu });
}

function signOut(app) {
  session.clear();
  app.user = null;
  flash.set('You are signed out.');
  navigate('/signin');
}

function signInPage(app) {
  title('Sign in');
  const params = new URLSearchParams(location.search);
  // The central sign-in passes the email in the #fragment: never sent to a server or its logs.
  const given = new URLSearchParams(location.hash.slice(1)).get('email') || params.get('email') || '';
  const main = frame(app.root);
  const email = input('email', { type: 'email', autocomplete: 'username', required: true, value: given });
  const password = input('password', { type: 'password', autocomplete: 'current-password', required: true });
  const errors = h('div');
  const message = flash.take();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', null, 'Sign in'),
    h('p', { class: 'lead' }, `to ${app.workspace.subdomain}`),
    message ? notice('info', message) : null,
    errors,
    field('Email', email),
    field('Password', password),
    h('div', { class: 'actions' }, submit),
    h('p', { class: 'hint' }, h('a', { href: appUrl() }, 'Not your workspace? Find yours')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    submit.disabled = true;
    session.clear();
    try {
      const answer = await api('POST', '/api/auth/login', { body: { email: email.value.trim(), password: password.value } });
      session.set(answer);
      const next = params.get('next');
      navigate(answer.password_change_required ? '/account/password' : sameOrigin(next) || '/', { replace: true });
    } catch (err) {
      showError(errors, err);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  show(main, form);
  (email.value ? password : email).focus();
}

/** `next` as a path of this origin, or null (no redirect elsewhere, whatever it holds). */
function sameOrigin(next) {
  if (!next) return null;
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search : null;
  } catch {
    return null;
  }
}

/** Change the password; the first sign-in must do it before anything else. */
async function passwordPage(main, { forced }) {
  title('Change password');
  const current = input('current', { type: 'password', autocomplete: 'current-password' });
  const fresh = input('new', { type: 'password', autocomplete: 'new-password', minlength: 12 });
  const again = input('again', { type: 'password', autocomplete: 'new-password' });
  const errors = h('div');
  const freshField = field('New password', fresh, 'At least 12 characters; not the current one.');
  const againField = field('Repeat the new password', again);
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', null, forced ? 'Choose your password' : 'Change password'),
    forced ? notice('info', 'You signed in with a temporary password. Choose your own to continue.') : null,
    errors,
    field(forced ? 'Temporary password' : 'Current password', current),
    freshField,
    againField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save password')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    againField.setError(fresh.value === again.value ? '' : 'The two passwords differ.');
    if (fresh.value !== again.value) return;
    try {
      session.set(await api('POST', '/api/auth/password', { body: { current_password: current.value, new_password: fresh.value } }));
      flash.set('Your password has been changed.');
      navigate('/', { replace: true });
    } catch (err) {
      if (err.code === 'weak_password' || err.code === 'password_unchanged') freshField.setError(err.message);
      else showError(errors, err);
    }
  });
  show(main, form);
  current.focus();
}
