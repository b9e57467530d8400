import { Command, Option } from 'clipanion';
import { gc, type GcResult } from '../core/gc/gc.js';
import { UsageError } from '../lib/errors.js';
import { AimCommand } from './base.js';
import { formatBytes } from './render/format.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `24h`, `30m`, `7d`, `90s`, `1w` or `0`, in milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw]?)$/.exec(text.trim());
  if (!match || (match[2] === '' && Number(match[1]) !== 0)) {
    throw new UsageError(`--grace ${text} is not a duration`, { hint: 'give a number and a unit: 90s, 30m, 24h, 7d, 1w (or 0)' });
  }
  return Number(match[1]) * (UNITS[match[2]!] ?? 0);
}

function parsePercent(text: string): number {
  const value = Number(text.trim().replace(/%$/, ''));
  if (!(value >= 0 && value <= 100)) throw new UsageError(`--max-unused ${text} is not a percentage`, { hint: 'give a number from 0 to 100, e.g. 5%' });
  return value;
}

export class GcCommand extends AimCommand {
  static override paths = [['gc']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'remove packs, manifests, location maps and signatures no tag reaches',
    details: `
      Without --yes, only says what would be removed and the space it would reclaim. Packs partly alive are
      repacked (their live chunks copied into new packs) once the waste in the repository passes --max-unused.
      Nothing written less than --grace ago is removed, and a push running meanwhile either finds every chunk it
      relied on or stores again what gc removed. Safe to interrupt: run it again.
    `,
    examples: [
      ['See what would be removed', '$0 gc team-vision'],
      ['Remove it', '$0 gc team-vision --yes'],
      ['Remove everything unreferenced now, repacking any waste (nothing else writes)', '$0 gc team-vision --yes --grace 0 --max-unused 0'],
    ],
  });

  repo = Option.String({ name: 'REPO' });
  yes = Option.Boolean('--yes', false, { description: 'remove what is found (default: dry run)' });
  grace = Option.String('--grace', '24h', { description: 'leave anything written less than this long ago (90s, 30m, 24h, 7d; 0 = no grace)' });
  maxUnused = Option.String('--max-unused', '5%', { description: 'waste left in packs, in percent of the repository, before packs are repacked' });

  async run(): Promise<void> {
    const result = await gc(await this.repository(this.repo), {
      graceMs: parseDuration(this.grace),
      maxUnusedPercent: parsePercent(this.maxUnused),
      yes: this.yes,
      progress: this.progress(),
    });
    this.warnAbout(result.problems);
    this.report(result, () => describe(result, this.grace, this.maxUnused));
  }
}

function describe(result: GcResult, grace: string, maxUnused: string): string {
  const { packs, bytes } = result;
  const verb = result.dryRun ? 'would remove' : 'removed';
  const lines = [
    `${result.repo}: ${verb} ${formatBytes(bytes.reclaimed)}${result.dryRun ? ' (dry run: --yes removes it)' : ''}`,
    `  packs:      ${packs.deleted} deleted (${formatBytes(bytes.deleted)}), ${packs.repacked} repacked (${formatBytes(bytes.repacked)}, ${formatBytes(bytes.copied)} live copied), ${packs.kept} kept`,
    `  manifests:  ${result.manifests} (${formatBytes(bytes.manifests)}), location maps: ${result.maps.deleted} deleted${result.maps.rewritten ? `, ${result.maps.rewritten} rewritten` : ''}${result.signatures ? `, signatures: ${result.signatures}` : ''}`,
    `  index:      ${result.indexFiles} file(s) replaced`,
    `  left:       ${formatBytes(bytes.unusedLeft)} of unused chunks in packs kept (--max-unused ${maxUnused})`,
  ];
  if (result.young.packs + result.young.manifests > 0) {
    lines.push(`  too new:    ${result.young.packs} pack(s) and ${result.young.manifests} manifest(s) younger than --grace ${grace}: left alone`);
  }
  if (result.damagedPacks.length) lines.push(`  kept ${result.damagedPacks.length} pack(s) with a damaged live chunk: run \`aim verify ${result.repo}\``);
  if (result.dryRun && result.problems.length) lines.push(`  ${result.problems.length} tag(s) or manifest(s) do not read: --yes refuses until they are fixed`);
  return lines.join('\n');
}
