// Which engine serves a deployment, and building it. Both engine modules are light (node-llama-cpp loads only in
// the embedded engine's child process), so they are imported statically.
import type { DeploymentRecord, Engine, EngineKind } from '../../serving/engine.js';
import { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import { kamiwazaSettings, settingsForRecord } from '../../serving/kamiwaza/kamiwaza-http.js';
import { EmbeddedEngine } from '../../serving/embedded/llama.js';
import type { AimConfig } from '../config/config.js';
import { kamiwazaEnv, kamiwazaUrl } from '../../settings/kamiwaza.js';

export type EngineChoice = EngineKind;

/** --engine, else Kamiwaza when the environment or config names a server (as the design says), else embedded. */
export function chooseEngine(choice: EngineChoice | undefined, config?: AimConfig, env?: NodeJS.ProcessEnv): EngineKind {
  if (choice) return choice;
  return kamiwazaUrl(env) || config?.kamiwaza?.url ? 'kamiwaza' : 'embedded';
}

/** An engine for new deployments (from settings) or for an existing record (talking to the server it names). */
export function engineFor(kind: EngineKind, config?: AimConfig, record?: DeploymentRecord): Engine {
  if (kind === 'embedded') return new EmbeddedEngine();
  const settings = kamiwazaSettings(undefined, config?.kamiwaza?.url ?? record?.kamiwaza?.baseUrl);
  const { pollMs } = kamiwazaEnv();
  return new KamiwazaEngine({ settings: settingsForRecord(settings, record?.kamiwaza?.baseUrl), pollMs });
}
