import type { SandboxStats } from '../../ports/sandbox-runtime.port';

/** Docker's raw stats (cgroup v1 and v2 shapes) to our numbers. */
export function toSandboxStats(taskId: string, s: any): SandboxStats {
  const cpuDelta =
    (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus ?? s.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 1;
  const cpuPercent = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const m = s.memory_stats ?? {};
  // Like `docker stats`: page cache is reclaimable, so it does not count against the limit.
  const cache = m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? m.stats?.cache ?? 0;
  const memoryBytes = Math.max(0, (m.usage ?? 0) - cache);
  const memoryLimitBytes = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values<any>(s.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  return {
    taskId,
    at: s.read && !String(s.read).startsWith('0001') ? s.read : new Date().toISOString(),
    cpuPercent: Math.round(cpuPercent * 10) / 10,
    memoryBytes,
    memoryLimitBytes,
    memoryPercent: memoryLimitBytes ? Math.round((memoryBytes / memoryLimitBytes) * 1000) / 10 : 0,
    pids: s.pids_stats?.current ?? 0,
    pidsLimit: s.pids_stats?.limit && s.pids_stats.limit < 2 ** 53 ? s.pids_stats.limit : null,
    netRxBytes: rx,
    netTxBytes: tx,
  };
}
