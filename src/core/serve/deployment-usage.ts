// What each deployment costs on this machine, for `aim ps`: the local engine's memory and CPU from /proc, and for
// every deployment how long it has been up.
import type { LiveDeployment } from '../../serving/engine.js';
import { processUsage, type ProcessUsage } from '../../serving/process-usage.js';

export type { ProcessUsage } from '../../serving/process-usage.js';

export interface DeploymentWithUsage extends LiveDeployment {
  /** The engine process's usage; null for a remote engine or a process that is not (or no longer) ours. */
  usage: ProcessUsage | null;
  /** Since the record's start time; null when the record has none that reads. */
  uptimeSeconds: number | null;
}

/** A local engine's usage, only for a process `list` identified as the record's own (a stopped one's pid may be reused). */
function usageOf(deployment: LiveDeployment): ProcessUsage | null {
  if (deployment.engine !== 'embedded' || deployment.status === 'stopped' || deployment.pid === undefined) return null;
  return processUsage(deployment.pid) ?? null;
}

export function withUsage(deployments: LiveDeployment[], now = Date.now()): DeploymentWithUsage[] {
  return deployments.map((deployment) => {
    const started = Date.parse(deployment.startedAt);
    return { ...deployment, usage: usageOf(deployment), uptimeSeconds: Number.isNaN(started) ? null : Math.max(0, Math.round((now - started) / 1000)) };
  });
}
