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
};
