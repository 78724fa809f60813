// Users (admins): invite with a role (the temporary password is shown once), change a role,
// remove a user. The API refuses what would leave the workspace without an admin; its message
// is shown as is.

import { api } from '../lib/api.js';
import { confirmDialog, field, h, input, notice, select, show, showError, table } from '../lib/dom.js';
import { dateTime } from '../lib/format.js';
import { navigate } from '../lib/router.js';
import { title } from '../lib/shell.js';

const ROLES = [['viewer', 'Viewer: reads analytics'], ['analyst', 'Analyst: also uploads'], ['admin', 'Admin: also manages vendors and users']];

export async function usersPage(main, { user }) {
  title('Users');
  if (user.role !== 'admin') {
    show(main, notice('info', 'Only admins manage users.'));
    return;
  }
  const members = h('section', { class: 'card' });
  const invited = h('div', { 'aria-live': 'polite' });
  const onInvited = async (created) => {
    show(invited, notice('success',
      `${created.user.email} is invited as ${created.user.role}. Their temporary password, shown only now: `,
      h('code', { class: 'secret' }, created.temporary_password),
      '. They choose their own at the first sign-in.'));
    await memberList(members, user);
  };
  show(main, h('h1', null, 'Users'), inviteForm(onInvited), invited, members);
  await memberList(members, user);
}

async function memberList(section, user) {
  const { users } = await api('GET', '/api/auth/users');
  const errors = h('div');
  show(section,
    h('h2', null, 'Members'),
    errors,
    table([
      { label: 'Name', value: (u) => u.full_name },
      { label: 'Email', value: (u) => u.email },
      { label: 'Role', value: (u) => roleControl(u, user, errors) },
      { label: 'Last sign-in', value: (u) => (u.password_change_required ? 'invited, not signed in yet' : dateTime(u.last_login_at)) },
      { label: 'Actions', value: (u) => (u.user_id === user.user_id ? 'you' : h('button', { type: 'button', class: 'link danger', onclick: () => remove(u, errors) }, 'Remove')) },
    ], users));
}

function roleControl(u, me, errors) {
  const control = select('role', ROLES.map(([v]) => [v, v]), u.role, { 'aria-label': `Role of ${u.email}` });
  control.addEventListener('change', async () => {
    showError(errors, null);
    try {
      await api('PATCH', `/api/auth/users/${u.user_id}`, { body: { role: control.value } });
      if (u.user_id === me.user_id) location.reload();
      else u.role = control.value;
    } catch (err) {
      control.value = u.role;
      showError(errors, err);
    }
  });
  return control;
}

async function remove(u, errors) {
  const ok = await confirmDialog({ title: `Remove ${u.email}?`, body: 'They can no longer sign in to this workspace. Their uploads stay.', confirm: 'Remove user' });
  if (!ok) return;
  try {
    await api('DELETE', `/api/auth/users/${u.user_id}`);
    navigate('/users', { replace: true });
  } catch (err) {
    showError(errors, err);
  }
}

function inviteForm(onInvited) {
  const email = input('email', { type: 'email', autocomplete: 'off' });
  const name = input('full_name', { autocomplete: 'off' });
  const role = select('role', ROLES, 'viewer');
  const errors = h('div');
  const form = h('form', { class: 'card', novalidate: true },
    h('h2', null, 'Invite a user'),
    errors,
    h('div', { class: 'row' }, field('Email', email), field('Full name', name), field('Role', role)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Invite')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(errors, null);
    try {
      const created = await api('POST', '/api/auth/users', { body: { email: email.value.trim(), full_name: name.value.trim(), role: role.value } });
      form.reset();
      await onInvited(created);
    } catch (err) {
      showError(errors, err);
    }
  });
  return form;
}
