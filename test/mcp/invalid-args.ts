/** Every tool issue 6 asks for. */
export const ALL_TOOLS = [
  'create_task_sandbox',
  'attach_agent_to_task',
  'detach_agent_from_task',
  'execute_in_task',
  'exec_poll',
  'exec_wait',
  'exec_kill',
  'get_task_status',
  'cancel_task',
  'delete_task',
  'list_tasks',
  'complete_task',
  'fail_task',
  'resume_task',
  'checkpoint_task',
  'list_checkpoints',
  'restore_checkpoint',
  'fork_task',
  'read_task_logs',
  'record_decision',
  'list_decisions',
  'list_executions',
  'read_file',
  'write_file',
  'list_locks',
  'task_stats',
];

/** For each tool, arguments it must refuse and the field the refusal must name. */
export const INVALID_ARGS: Record<string, { args: Record<string, unknown>; field: string }[]> = {
  create_task_sandbox: [
    { args: {}, field: 'name' },
    { args: { name: '' }, field: 'name' },
    { args: { name: 'x', mode: 'solo' }, field: 'mode' },
    { args: { name: 'x', limits: { memoryMb: 1 } }, field: 'limits.memoryMb' },
    { args: { name: 'x', network: 'host' }, field: 'network' },
    { args: { name: 'x', env: { 'BAD-NAME': '1' } }, field: 'env' },
  ],
  get_task_status: [
    { args: {}, field: 'taskId' },
    { args: { taskId: 42 }, field: 'taskId' },
  ],
  list_tasks: [
    { args: { status: 'done' }, field: 'status' },
    { args: { limit: 0 }, field: 'limit' },
    { args: { createdSince: 'yesterday' }, field: 'createdSince' },
  ],
  task_stats: [{ args: { owner: 7 }, field: 'owner' }],
  resume_task: [
    { args: {}, field: 'taskId' },
    { args: { taskId: 'tsk_x', expectedVersion: 0 }, field: 'expectedVersion' },
  ],
  complete_task: [
    { args: {}, field: 'taskId' },
    { args: { taskId: 'tsk_x', message: 5 }, field: 'message' },
  ],
  fail_task: [
    { args: { taskId: 'tsk_x' }, field: 'error' },
    { args: { taskId: 'tsk_x', error: '  ' }, field: 'error' },
  ],
  cancel_task: [
    { args: {}, field: 'taskId' },
    { args: { taskId: 'tsk_x', reason: false }, field: 'reason' },
  ],
  delete_task: [
    { args: {}, field: 'taskId' },
    { args: { taskId: 'tsk_x', force: 'yes' }, field: 'force' },
  ],
  attach_agent_to_task: [
    { args: { taskId: 'tsk_x' }, field: 'agentId' },
    { args: { taskId: 'tsk_x', agentId: 'a', ttlMs: 1 }, field: 'ttlMs' },
    { args: { taskId: 'tsk_x', agentId: 'a', waitMs: -1 }, field: 'waitMs' },
  ],
  detach_agent_from_task: [
    { args: { agentId: 'a' }, field: 'taskId' },
    { args: { taskId: 'tsk_x', agentId: '' }, field: 'agentId' },
  ],
  list_locks: [{ args: { agentId: 3 }, field: 'agentId' }],
  checkpoint_task: [
    { args: { taskId: 'tsk_x' }, field: 'description' },
    { args: { taskId: 'tsk_x', description: 'x'.repeat(1001) }, field: 'description' },
  ],
  list_checkpoints: [{ args: {}, field: 'taskId' }],
  restore_checkpoint: [
    { args: { taskId: 'tsk_x' }, field: 'checkpointId' },
    { args: { taskId: 'tsk_x', checkpointId: '' }, field: 'checkpointId' },
  ],
  fork_task: [
    { args: { checkpointId: 'chk_x' }, field: 'taskId' },
    { args: { taskId: 'tsk_x', checkpointId: 'chk_x', name: '' }, field: 'name' },
  ],
  read_task_logs: [
    { args: { taskId: 'tsk_x', level: 'fatal' }, field: 'level' },
    { args: { taskId: 'tsk_x', tail: 0 }, field: 'tail' },
  ],
  record_decision: [
    { args: { taskId: 'tsk_x', agentId: 'a' }, field: 'decision' },
    { args: { taskId: 'tsk_x', decision: 'd' }, field: 'agentId' },
  ],
  list_decisions: [
    { args: { taskId: 'tsk_x', order: 'up' }, field: 'order' },
    { args: { taskId: 'tsk_x', since: 'monday' }, field: 'since' },
  ],
  list_executions: [
    { args: { taskId: 'tsk_x', failedOnly: 'yes' }, field: 'failedOnly' },
    { args: { taskId: 'tsk_x', limit: 5000 }, field: 'limit' },
  ],
  execute_in_task: [
    { args: { taskId: 'tsk_x', agentId: 'a' }, field: 'command' },
    { args: { taskId: 'tsk_x', agentId: 'a', command: [] }, field: 'command' },
    { args: { taskId: 'tsk_x', agentId: 'a', command: 'ls', timeoutMs: -5 }, field: 'timeoutMs' },
    { args: { taskId: 'tsk_x', agentId: 'a', command: 'ls', workdir: 'rel' }, field: 'workdir' },
    { args: { taskId: 'tsk_x', agentId: 'a', command: 'ls', yieldMs: -1 }, field: 'yieldMs' },
    {
      args: { taskId: 'tsk_x', agentId: 'a', command: 'ls', idempotencyKey: '' },
      field: 'idempotencyKey',
    },
  ],
  exec_poll: [
    { args: {}, field: 'executionId' },
    { args: { executionId: 'exe_x', stdoutOffset: -1 }, field: 'stdoutOffset' },
  ],
  exec_wait: [{ args: { executionId: 'exe_x', timeoutMs: 'soon' }, field: 'timeoutMs' }],
  exec_kill: [{ args: { executionId: '' }, field: 'executionId' }],
  read_file: [
    { args: { taskId: 'tsk_x' }, field: 'path' },
    { args: { taskId: 'tsk_x', path: 'a', maxBytes: 0 }, field: 'maxBytes' },
  ],
  write_file: [
    { args: { taskId: 'tsk_x', agentId: 'a', path: 'f' }, field: 'content' },
    {
      args: { taskId: 'tsk_x', agentId: 'a', path: 'f', content: 'x', encoding: 'hex' },
      field: 'encoding',
    },
  ],
};
