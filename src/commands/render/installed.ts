import type { InstalledReport } from '../../core/install/installed.js';
import { formatAge, formatBytes, table } from './format.js';

/** The table of `aim installed` (and `aim list --installed`). */
export function describeInstalled(report: InstalledReport): string {
  if (report.models.length === 0) return 'nothing installed (install a model with `aim install NAME`, or run `aim install` to pick one)';
  return [
    table(
      ['MODEL', 'DIGEST', 'SUBSET', 'DISK', 'UPDATED', 'USED BY'],
      report.models.map((m) => [
        m.reference, m.digest.slice(7, 19), m.subset ? (m.subset.quant ?? 'yes') : '-', formatBytes(m.diskBytes), formatAge(m.updatedAt ?? m.installedAt), m.usedBy.join(', ') || '-',
      ]),
    ),
    `${report.models.length} installed, ${formatBytes(report.totalDiskBytes)} on disk`,
  ].join('\n');
}
