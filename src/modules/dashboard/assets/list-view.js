// The task list: server-side pages, filters, search, live rows.
import {
  STATUSES,
  PAGE,
  h,
  taskHref,
  timeEl,
  badge,
  api,
  toast,
  errText,
  feed,
  openFeed,
} from './lib.js';

// ------------------------------------------------------------------------------ task list
export const listState = { status: '', owner: '', sort: 'createdAt', q: '', offset: 0 };

function taskRow(t) {
  return h(
    'tr',
    { 'data-id': t.id },
    h('td', { class: 'col-name' }, h('a', { href: taskHref(t.id) }, t.name)),
    h('td', null, badge(t.status)),
    h('td', { class: 'col-owner' }, t.owner),
    h('td', { class: 'col-mode' }, t.mode),
    h('td', { class: 'col-image' }, t.image || '—'),
    h('td', { class: 'col-time' }, timeEl(t.updatedAt)),
    h('td', { class: 'col-id mono' }, t.id),
  );
}

export function renderList(main) {
  const search = h('input', {
    type: 'search',
    id: 'search',
    value: listState.q,
    placeholder: 'name, description, metadata',
    'aria-describedby': 'search-help',
  });
  const status = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: listState.status === s }, s)),
  );
  const owner = h('input', {
    type: 'text',
    id: 'owner-filter',
    value: listState.owner,
    placeholder: 'any',
    size: 12,
  });
  const sort = h(
    'select',
    { id: 'sort' },
    h('option', { value: 'createdAt', selected: listState.sort === 'createdAt' }, 'newest first'),
    h(
      'option',
      { value: 'updatedAt', selected: listState.sort === 'updatedAt' },
      'recently changed',
    ),
  );
  const count = h('p', { id: 'count', class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody', { id: 'task-rows' });
  const prev = h('button', { type: 'button', id: 'prev' }, '← Newer');
  const next = h('button', { type: 'button', id: 'next' }, 'Older →');
  const rows = new Map();
  let page = { items: [], total: 0, offset: 0, limit: PAGE };
  let seq = 0;

  // A new task is inserted live only without a search: the page cannot tell whether its
  // description or metadata match (it has neither), and reloading on every event would make each
  // dashboard query the database.
  const matches = (t) =>
    !listState.q &&
    (!listState.status || listState.status === t.status) &&
    (!listState.owner || listState.owner === t.owner);

  function showCount() {
    const from = page.total ? page.offset + 1 : 0;
    const to = Math.min(page.offset + rows.size, page.total);
    count.textContent = `${from}–${to} of ${page.total} task${page.total === 1 ? '' : 's'}`;
    prev.disabled = page.offset === 0;
    next.disabled = page.offset + PAGE >= page.total;
  }

  async function load() {
    const mine = ++seq;
    const qs = new URLSearchParams({ limit: String(PAGE), offset: String(listState.offset) });
    if (listState.q) qs.set('q', listState.q);
    if (listState.status) qs.set('status', listState.status);
    if (listState.owner) qs.set('owner', listState.owner);
    qs.set('sort', listState.sort);
    try {
      const data = await api(`/api/tasks?${qs}`);
      if (mine !== seq) return;
      page = data;
      rows.clear();
      tbody.replaceChildren(
        ...data.items.map((t) => {
          const tr = taskRow(t);
          rows.set(t.id, tr);
          return tr;
        }),
      );
      if (!data.items.length) {
        tbody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No tasks match.')));
      }
      showCount();
    } catch (err) {
      count.textContent = errText(err);
      toast(errText(err), true);
    }
  }

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      listState.q = search.value.trim();
      listState.offset = 0;
      void load();
    }, 250);
  });
  const filtered = () => {
    listState.status = status.value;
    listState.owner = owner.value.trim();
    listState.sort = sort.value;
    listState.offset = 0;
    void load();
  };
  status.addEventListener('change', filtered);
  sort.addEventListener('change', filtered);
  let ownerDebounce;
  owner.addEventListener('input', () => {
    clearTimeout(ownerDebounce);
    ownerDebounce = setTimeout(filtered, 300);
  });
  prev.addEventListener('click', () => {
    listState.offset = Math.max(0, listState.offset - PAGE);
    void load();
  });
  next.addEventListener('click', () => {
    listState.offset += PAGE;
    void load();
  });

  main.replaceChildren(
    h('h2', null, 'Tasks'),
    h(
      'div',
      { class: 'filters' },
      h('label', { for: 'search' }, 'Search'),
      search,
      h('label', { for: 'status-filter' }, 'Status'),
      status,
      h('label', { for: 'owner-filter' }, 'Owner'),
      owner,
      h('label', { for: 'sort' }, 'Order'),
      sort,
      h(
        'span',
        { id: 'search-help', class: 'sr-only' },
        'Searches within the status and owner filters.',
      ),
    ),
    count,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'tasks' },
        h('caption', { class: 'sr-only' }, 'Tasks, newest first'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col' }, 'Status'),
            h('th', { scope: 'col', class: 'col-owner' }, 'Owner'),
            h('th', { scope: 'col', class: 'col-mode' }, 'Mode'),
            h('th', { scope: 'col', class: 'col-image' }, 'Sandbox'),
            h('th', { scope: 'col', class: 'col-time' }, 'Updated'),
            h('th', { scope: 'col', class: 'col-id' }, 'ID'),
          ),
        ),
        tbody,
      ),
    ),
    h('div', { class: 'pager' }, prev, next),
  );

  feed.handler = (msg) => {
    if (msg.type === 'task') {
      const t = msg.task;
      const old = rows.get(t.id);
      if (old) {
        const tr = taskRow(t);
        old.replaceWith(tr);
        rows.set(t.id, tr);
      } else if (
        listState.offset === 0 &&
        listState.sort === 'createdAt' &&
        matches(t) &&
        msg.event === 'afterTaskCreate'
      ) {
        if (!rows.size) tbody.replaceChildren();
        const tr = taskRow(t);
        tbody.prepend(tr);
        rows.set(t.id, tr);
        page.total++;
        if (rows.size > PAGE) {
          const last = tbody.lastElementChild;
          rows.delete(last.getAttribute('data-id'));
          last.remove();
        }
        showCount();
      }
    } else if (msg.type === 'deleted') {
      const tr = rows.get(msg.id);
      if (tr) {
        tr.remove();
        rows.delete(msg.id);
        page.total = Math.max(0, page.total - 1);
        showCount();
      }
    }
  };
  openFeed(undefined);
  return load();
}
