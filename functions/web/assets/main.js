// The page's entry: each host family gets its own application, all from this origin.
const surfaces = {
  app: () => import('./app.js'),
  tenant: () => import('./tenant.js'),
  console: () => import('./console.js'),
};

const load = surfaces[document.body.dataset.surface];
if (load) {
  load().then((module) => module.start(document.getElementById('root')));
}
