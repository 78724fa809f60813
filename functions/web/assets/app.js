// `app.<domain>`: the central sign-in. An email → the workspaces it belongs to → the chosen
// workspace's sign-in page with the email filled in. No token ever lives on this origin.

import { api } from './lib/api.js';
import { field, h, input, notice, show, showError } from './lib/dom.js';
import { frame, title } from './lib/shell.js';

export function start(root) {
  title('Sign in');
  const main = frame(root);
  const email = input('email', { type: 'email', autocomplete: 'email', required: true, autofocus: true });
  const errors = h('div');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Continue');
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', null, 'Sign in to TaskifAI'),
    h('p', { class: 'lead' }, 'Enter your work email and we will find your workspace.'),
    errors,
    field('Work email', email),
    h('div', { class: 'actions' }, submit),
    results);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    show(results);
    const address = email.value.trim();
    if (!address) {
      showError(errors, new Error('Enter your email address.'));
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Looking…';
    try {
      const { tenants } = await api('POST', '/api/discover', { body: { email: address } });
      showTenants(results, tenants, address);
    } catch (err) {
      showError(errors, err);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Continue';
    }
  });
  show(main, form);
}

function showTenants(results, tenants, email) {
  if (!tenants.length) {
    show(results, notice('info',
      'We could not find a workspace for this email. Check the address, or ask your administrator to invite you.'));
    return;
  }
  show(results,
    h('h2', null, tenants.length === 1 ? 'Your workspace' : 'Choose a workspace'),
    h('ul', { class: 'choices' }, tenants.map((t) => {
      const url = new URL('/signin', t.login_url);
      url.hash = new URLSearchParams({ email }).toString();
      return h('li', null, h('a', { class: 'choice', href: url.toString() },
        h('strong', null, t.display_name), h('span', null, new URL(t.login_url).host)));
    })));
  results.querySelector('a').focus();
}
