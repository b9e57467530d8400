// `aim doctor`: every check, in the order a user would fix things (the config, then the repositories it names,
// then this machine, then serving). Each check reports instead of throwing, so one broken part never hides the rest.
import { aimHome } from '../../settings/home.js';
import { effectiveSettings } from '../../settings/resolve-settings.js';
import { loadConfig, type AimConfig, type ConfigSource } from '../config/config.js';
import { buildCatalog } from '../serve/catalog.js';
import { failureOf, ok, type Finding } from './finding.js';
import { localFindings } from './local-checks.js';
import { repositoryFindings } from './repository-checks.js';
import { engineFinding, kamiwazaFinding } from './service-checks.js';

export type { Finding, FindingStatus } from './finding.js';

export interface DoctorOptions extends ConfigSource {
  /** Folders pulled into, checked for leftover partial downloads besides AIM_HOME. */
  destinations?: string[];
  /** Skips the embedded engine's check (a few seconds of loading llama.cpp). */
  skipEngine?: boolean;
}

export interface DoctorReport {
  ok: boolean;
  findings: Finding[];
}

async function configFindings(source: ConfigSource): Promise<{ findings: Finding[]; config?: AimConfig; kamiwazaUrl?: string }> {
  let config: AimConfig;
  try {
    config = await loadConfig(source);
  } catch (error) {
    return { findings: [failureOf('config', error)] };
  }
  const where = config.filepath ?? 'no model_repos.yaml found (commands see no repositories)';
  const findings = [ok('config', `${where}, ${config.repositories.length} repositories`)];
  // The friendly names are read only by the commands that take one (run, install, exec): checked here, a bad entry
  // is found before it stops the first of them.
  const named = Object.keys(config.models).length;
  if (named > 0) {
    try {
      buildCatalog(config.models, config.filepath);
      findings.push(ok('friendly names', `${named} under models:, each a reference or a hub repository`));
    } catch (error) {
      findings.push(failureOf('friendly names', error));
    }
  }
  try {
    const settings = effectiveSettings({ aimSection: config.aimSection, file: config.filepath, legacyKamiwazaUrl: config.kamiwaza?.url }, source.flags);
    findings.push(ok('settings', 'every setting reads (`aim config list` shows them)'));
    return { findings, config, kamiwazaUrl: settings.text('kamiwaza.url') };
  } catch (error) {
    findings.push(failureOf('settings', error));
    return { findings, config };
  }
}

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const { findings, config, kamiwazaUrl } = await configFindings(options);
  // Repositories are independent: checked at once, reported in the file's order.
  if (config) for (const repoFindings of await Promise.all(config.repositories.map(repositoryFindings))) findings.push(...repoFindings);
  findings.push(...(await localFindings(aimHome(), options.destinations ?? [])));
  if (!options.skipEngine) findings.push(await engineFinding());
  const kamiwaza = config ? await kamiwazaFinding(config, kamiwazaUrl) : undefined;
  if (kamiwaza) findings.push(kamiwaza);
  return { ok: findings.every((finding) => finding.status !== 'fail'), findings };
}
