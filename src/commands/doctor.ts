import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { runDoctor, type Finding } from '../core/doctor/doctor.js';
import { EXIT_CODES } from '../lib/errors.js';
import { AimCommand } from './base.js';

const LABELS: Record<Finding['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };

export class DoctorCommand extends AimCommand {
  static override paths = [['doctor']];
  static override usage = Command.Usage({
    description: 'check the config, repositories, AIM_HOME and serving, and say what to fix',
    details: `
      Checks that the config is found and valid; that each repository is reachable, writable (a probe object is
      written and deleted) and of a format this aim reads; that S3 credentials are present and the clock agrees with
      S3's; that AIM_HOME is writable with free space; that the embedded engine's llama.cpp binding loads; that the
      Kamiwaza server answers when one is configured; and which partial downloads killed pulls left (under AIM_HOME
      and the folders named). Exits non-zero when a check fails; warnings alone exit 0.
    `,
    examples: [
      ['Check everything', '$0 doctor'],
      ['Also look for partial downloads in ./models', '$0 doctor ./models'],
      ['As JSON, for monitoring', '$0 doctor --json'],
    ],
  });

  destinations = Option.Rest({ name: 'FOLDER' });
  skipEngine = Option.Boolean('--skip-engine', false, { description: "do not load llama.cpp's binding (a few seconds)" });

  async run(): Promise<number> {
    const report = await runDoctor({ explicitPath: this.configPath, destinations: this.destinations.map((d) => resolve(d)), skipEngine: this.skipEngine });
    this.report(report, () => report.findings.map(findingLine).join('\n'));
    return report.ok ? 0 : EXIT_CODES.error;
  }
}

/** One line per finding: status, what was checked, what was found, and what to do about it. */
function findingLine(finding: Finding): string {
  return `${LABELS[finding.status].padEnd(5)}${finding.check.padEnd(27)} ${finding.message}${finding.hint ? ` (fix: ${finding.hint})` : ''}`;
}
