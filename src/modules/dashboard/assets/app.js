// OpenCode Tools dashboard: plain browser JavaScript modules, no build step, no network beyond
// this server. Every piece of data reaches the page as text (textContent / text nodes), never as
// markup. This module routes between the three views.
import { $, closeFeed, feedIsOpen } from './lib.js';
import { renderList } from './list-view.js';
import { renderSystem } from './system-view.js';
import { renderDetail } from './task-view.js';

// ----------------------------------------------------------------------------------- router
async function route() {
  const main = $('#main');
  const hash = location.hash || '#/';
  const m = /^#\/task\/(.+)$/.exec(hash);
  $('#nav-tasks').setAttribute('aria-current', m || hash === '#/system' ? 'false' : 'page');
  $('#nav-system').setAttribute('aria-current', hash === '#/system' ? 'page' : 'false');
  if (m) {
    document.title = 'Task · OpenCode Tools';
    await renderDetail(main, decodeURIComponent(m[1]), route);
  } else if (hash === '#/system') {
    document.title = 'System · OpenCode Tools';
    await renderSystem(main);
  } else {
    document.title = 'Tasks · OpenCode Tools';
    await renderList(main);
  }
  document.body.setAttribute('data-ready', hash);
}

// A hidden tab gives its stream back: browsers allow 6 connections per host over HTTP/1.1,
// and each open dashboard holds one. Coming back re-reads the view, then follows again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    closeFeed();
    const live = $('#live');
    live.textContent = 'paused (tab hidden)';
    live.className = 'live off';
  } else if (!feedIsOpen()) {
    void route();
  }
});

window.addEventListener('hashchange', () => {
  document.body.removeAttribute('data-ready');
  void route().then(() => $('#main').focus({ preventScroll: true }));
});
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && document.activeElement === document.body) {
    const s = $('#search');
    if (s) {
      e.preventDefault();
      s.focus();
    }
  }
});
void route();
