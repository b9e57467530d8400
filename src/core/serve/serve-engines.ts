// Which engine serves a deployment, and building it. Both engine modules are light (node-llama-cpp loads only in
// the embedded engine's child process), so they are imported statically.
import type { DeploymentRecord, Engine, EngineKind } from '../../serving/engine.js';
import { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import { kamiwazaSettings } from '../../serving/kamiwaza/kamiwaza-http.js';
import { EmbeddedEngine } from '../../serving/embedded/llama.js';
import type { AimConfig } from '../config/config.js';

export type EngineChoice = EngineKind;

/** --engine, else Kamiwaza when the environment or config names a server (as the design says), else embedded. */
export function chooseEngine(choice: EngineChoice | undefined, config?: AimConfig, env: NodeJS.ProcessEnv = process.env): EngineKind {
  if (choice) return choice;
  return env.KAMIWAZA_BASE_URL || env.KAMIWAZA_BASE_URI || env.KAMIWAZA_API_URL || config?.kamiwaza?.url ? 'kamiwaza' : 'embedded';
}

/** An engine for new deployments (from settings) or for an existing record (talking to the server it names). */
export function engineFor(kind: EngineKind, config?: AimConfig, record?: DeploymentRecord): Engine {
  if (kind === 'embedded') return new EmbeddedEngine();
  const settings = kamiwazaSettings(process.env, record?.kamiwaza?.baseUrl ?? config?.kamiwaza?.url);
  // AIM_KAMIWAZA_POLL_MS: how often to poll download and deployment status (default 2000).
  const pollMs = Number(process.env.AIM_KAMIWAZA_POLL_MS) || undefined;
  return new KamiwazaEngine({ settings: record?.kamiwaza?.baseUrl ? { ...settings, baseUrl: record.kamiwaza.baseUrl } : settings, pollMs });
}
