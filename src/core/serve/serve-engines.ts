// Which engine serves a deployment, and building it. Both engine modules are light (node-llama-cpp loads only in
// the embedded engine's child process), so they are imported statically.
import type { DeploymentRecord, Engine, EngineKind } from '../../serving/engine.js';
import { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import { kamiwazaSettings, settingsForRecord } from '../../serving/kamiwaza/kamiwaza-http.js';
import { EmbeddedEngine } from '../../serving/embedded/llama.js';
import type { AimConfig } from '../config/config.js';
import { kamiwazaEnv } from '../../settings/kamiwaza.js';
import { testFreeMemory } from '../../settings/test-hooks.js';
import { effectiveSettings, type Settings } from '../../settings/resolve-settings.js';

export type EngineChoice = EngineKind;

/** --engine, else the `serve.engine` setting, else Kamiwaza when a Kamiwaza URL is set (as the design says), else embedded. */
export function chooseEngine(choice: EngineChoice | undefined, settings: Settings): EngineKind {
  if (choice) return choice;
  const configured = settings.text('serve.engine') as EngineKind | undefined;
  return configured ?? (settings.text('kamiwaza.url') ? 'kamiwaza' : 'embedded');
}

/** The Kamiwaza URL the environment or the config names (flag-less: `ps` and `stop` take no --kamiwaza-url). */
function configuredKamiwazaUrl(config: AimConfig | undefined): string | undefined {
  if (!config) return undefined;
  return effectiveSettings({ aimSection: config.aimSection, file: config.filepath, legacyKamiwazaUrl: config.kamiwaza?.url }).text('kamiwaza.url');
}

/**
 * An engine for new deployments (from settings: `kamiwazaUrl` is the effective `kamiwaza.url`, flag included) or for
 * an existing record (talking to the server it names).
 */
export function engineFor(kind: EngineKind, config?: AimConfig, record?: DeploymentRecord, kamiwazaUrl?: string): Engine {
  if (kind === 'embedded') {
    const freeBytes = testFreeMemory();
    return new EmbeddedEngine(freeBytes === undefined ? {} : { freeMemory: () => freeBytes });
  }
  const url = kamiwazaUrl ?? configuredKamiwazaUrl(config);
  const settings = kamiwazaSettings(undefined, url ?? record?.kamiwaza?.baseUrl, url);
  const { pollMs } = kamiwazaEnv();
  return new KamiwazaEngine({ settings: settingsForRecord(settings, record?.kamiwaza?.baseUrl), pollMs });
}
