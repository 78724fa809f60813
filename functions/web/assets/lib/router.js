// Pages by path, in the browser: links marked `data-link` change the page without a reload, the
// back button works, and every page has its own address.

let render = () => {};
let shown = '';

/** Starts routing: `onChange` renders the page of `location`. */
export function startRouter(onChange) {
  render = onChange;
  shown = location.pathname + location.search;
  window.addEventListener('popstate', () => {
    // A change of the #fragment alone (the skip link) is not another page.
    if (location.pathname + location.search === shown) return;
    shown = location.pathname + location.search;
    render();
  });
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-link]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(link.getAttribute('href'));
  });
  render();
}

/** Goes to `path` (with its query) and renders it. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  shown = location.pathname + location.search;
  render();
}

/**
 * Finds the page for `path` in `routes` (`{'/uploads/:id': page}`); the page gets the named
 * segments, decoded.
 */
export function match(routes, path) {
  const segments = path.split('/').filter(Boolean);
  for (const [pattern, page] of Object.entries(routes)) {
    const parts = pattern.split('/').filter(Boolean);
    if (parts.length !== segments.length) continue;
    const params = {};
    const ok = parts.every((part, i) => {
      if (part.startsWith(':')) {
        try {
          params[part.slice(1)] = decodeURIComponent(segments[i]);
        } catch {
          return false;
        }
        return true;
      }
      return part === segments[i];
    });
    if (ok) return { page, params };
  }
  return null;
}

/** A link that routes in the page. */
export function link(href, text, props = {}) {
  const a = document.createElement('a');
  a.href = href;
  a.dataset.link = '';
  for (const [k, v] of Object.entries(props)) a.setAttribute(k, v);
  a.append(text);
  return a;
}
