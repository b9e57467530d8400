import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The house rules, checked with the suite: imports point downward only (the rules are in .dependency-cruiser.cjs),
// and src/settings alone reads the environment. No exceptions are listed here: a violation is fixed, not excused.

const root = fileURLToPath(new URL('..', import.meta.url));

/** `process.env.X`, `process?.env`, `process['env']`, `const { env } = process`. */
const READS_ENV = /\bprocess\s*(\?\.|\.)\s*env\b|\bprocess\s*\[\s*['"`]env['"`]\s*\]|\{[^}]*\benv\b[^}]*\}\s*=\s*process\b/;

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

describe('architecture', () => {
  it('imports point downward only, with no cycles (dependency-cruiser)', async () => {
    const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
    const { stdout } = await promisify(execFile)(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' })); // exits non-zero when it finds violations
    const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    expect(result.summary.totalCruised).toBeGreaterThan(50); // it really read the sources
    const violations = result.summary.violations.map(({ from, to, rule }) => `${rule.name}: ${from} -> ${to}`);
    expect(violations).toEqual([]);
  });

  it('reads process.env only in src/settings', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(root, 'src'))) {
      const path = relative(root, file).split('\\').join('/');
      if (path.startsWith('src/settings/')) continue;
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, index) => {
        if (READS_ENV.test(line)) offenders.push(`${path}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the environment scan would catch the usual ways of reading it', () => {
    for (const line of ['process.env.AIM_HOME', "process['env']", 'const { env } = process;', 'process?.env']) expect(READS_ENV.test(line)).toBe(true);
    expect(READS_ENV.test('const environment = settings();')).toBe(false);
  });
});
