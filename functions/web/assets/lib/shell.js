// What every surface's pages share: the frame with the product name, and the full-page states.

import { h, show } from './dom.js';

/** The page frame: header (brand, navigation, menu) and the main region. */
export function frame(root, { nav, menu } = {}) {
  const main = h('main', { id: 'main', tabindex: '-1' });
  show(root,
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'top' },
      h('span', { class: 'brand' }, h('img', { src: brandIcon(), alt: '', width: 24, height: 24 }), 'TaskifAI'),
      nav ? h('nav', { 'aria-label': 'Main' }, nav) : null,
      menu || null),
    main);
  return main;
}

function brandIcon() {
  return document.querySelector('link[rel=icon]').getAttribute('href');
}

/** A page-wide message (no such workspace, suspended, failed to load). */
export function fullPage(root, title, message, action) {
  const main = frame(root);
  show(main, h('section', { class: 'card narrow center' }, h('h1', null, title), h('p', null, message), action || null));
  return main;
}

/** Sets the document title. */
export function title(text) {
  document.title = text ? `${text} · TaskifAI` : 'TaskifAI';
}
