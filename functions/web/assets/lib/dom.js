// Building the page: elements from plain values (text is always text, never HTML), form fields
// with their labels and error slots, and the small pieces every page shares.

/** `h('button', {class: 'primary', onclick}, 'Save')` */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces `el`'s content. */
export function show(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldIds = 0;

/** A labelled control with a hint and a slot for its error (`setError`). */
export function field(label, control, hint) {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  control.setAttribute('aria-describedby', hint ? `${id}-hint ${id}-error` : `${id}-error`);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), control,
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, error);
  wrap.control = control;
  wrap.setError = (message) => {
    error.textContent = message || '';
    control.toggleAttribute('aria-invalid', Boolean(message));
  };
  return wrap;
}

export function input(name, props = {}) {
  return h('input', { name, type: 'text', ...props });
}

export function select(name, options, selected, props = {}) {
  const el = h('select', { name, ...props },
    options.map(([value, label]) => h('option', { value }, label)));
  if (selected != null) el.value = selected;
  return el;
}

/** A message box: `kind` is `error`, `info` or `success`. */
export function notice(kind, ...text) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

/** Shows `err`'s human message in `slot` (an element), or clears it. */
export function showError(slot, err) {
  show(slot, err ? notice('error', err.message || String(err)) : null);
}

/** A button that is disabled and says so while `action` runs; errors go to `slot`. */
export function busyButton(label, busyLabel, action, props = {}) {
  const button = h('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = busyLabel;
    try {
      await action();
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
  return button;
}

/** A modal confirmation; resolves true when confirmed. `typed` asks the user to type a word. */
export function confirmDialog({ title, body, confirm, danger = true, typed }) {
  return new Promise((resolve) => {
    const typedInput = typed ? input('confirm', { autocomplete: 'off' }) : null;
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', disabled: Boolean(typed) }, confirm);
    if (typedInput) typedInput.addEventListener('input', () => { ok.disabled = typedInput.value.trim() !== typed; });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        h('p', null, body),
        typedInput ? field(`Type ${typed} to confirm`, typedInput) : null,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close('cancel') }, 'Cancel'),
          ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue !== 'cancel' && dialog.returnValue !== '');
      dialog.remove();
    });
    ok.addEventListener('click', () => { dialog.returnValue = 'ok'; });
    document.body.append(dialog);
    dialog.showModal();
    (typedInput || ok).focus();
  });
}

/** A table from column definitions `[{label, value: row => node|text, class?}]`. */
export function table(columns, rows, caption) {
  return h('div', { class: 'table-wrap' },
    h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', null, rows.map((row) => h('tr', null, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.value(row))))))));
}

/** A status badge. */
export function badge(status) {
  return h('span', { class: `badge ${status}` }, status.replace(/_/g, ' '));
}

/** Saves `blob` as a download named `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
