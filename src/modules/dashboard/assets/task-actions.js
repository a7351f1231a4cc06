// The task's toolbar (Cancel, Checkpoint, Delete) and the one way its actions are sent.
import { h, api, toast, errText, confirmDialog } from './lib.js';

/** `reload` re-renders the view after an action that changed the task. */
export function taskActions(t, reload) {
  const bar = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Task actions' });

  /** Sends an action; a refusal shows the domain error as it is. Resolves to the answer or undefined. */
  async function act(action, body, okText) {
    try {
      const r = await api(`/api/tasks/${encodeURIComponent(t.id)}/${action}`, body);
      toast(okText(r), false);
      return r;
    } catch (err) {
      toast(errText(err), true);
      return undefined;
    }
  }

  async function cancel() {
    const ok = await confirmDialog(
      'Cancel task?',
      `Cancel “${t.name}”? Its sandbox is stopped; this cannot be undone.`,
      'Cancel task',
    );
    if (!ok) return;
    if (await act('cancel', { reason: 'cancelled from the dashboard' }, () => 'Task cancelled.'))
      void reload();
  }

  async function remove() {
    const ok = await confirmDialog(
      'Delete task?',
      `Delete “${t.name}” with its logs, history, checkpoints and sandbox? This cannot be undone.`,
      'Delete task',
    );
    if (!ok) return;
    if (await act('delete', {}, () => 'Task deleted.')) location.hash = '#/';
  }

  function render(status) {
    const live = status === 'pending' || status === 'running';
    const cpDesc = h('input', {
      type: 'text',
      id: 'checkpoint-desc',
      placeholder: 'checkpoint description',
      'aria-label': 'Checkpoint description',
      maxlength: 500,
    });
    const checkpoint = async () => {
      const r = await act(
        'checkpoint',
        { description: cpDesc.value.trim() || 'from the dashboard' },
        (x) => `Checkpoint ${x.checkpoint.id} created.`,
      );
      if (r) void reload();
    };
    bar.replaceChildren(
      live
        ? h(
            'button',
            { type: 'button', id: 'act-cancel', class: 'danger', onclick: cancel },
            'Cancel…',
          )
        : null,
      cpDesc,
      h('button', { type: 'button', id: 'act-checkpoint', onclick: checkpoint }, 'Checkpoint'),
      h(
        'button',
        { type: 'button', id: 'act-delete', class: 'danger', onclick: remove },
        'Delete…',
      ),
    );
  }

  /** Deleted here or by another process (CLI, another server): nothing is left to act on. */
  function deleted() {
    bar.replaceChildren(
      h(
        'p',
        { id: 'task-deleted', class: 'error', role: 'alert' },
        'This task was deleted. What this page shows is what it was. ',
        h('a', { href: '#/' }, 'All tasks'),
      ),
    );
  }

  return { bar, act, render, deleted };
}
