// The one refusal of a pull that would replace files not aim's (pull-wanted.ts refuseUsersFiles), as the CLI prints it.
import { expect } from 'vitest';
import { expectUserError, type CliResult } from './cli.js';

/** Exit 5, one line naming `first` and counting `others`, the hint to move them away or pass --force. */
export function expectRefused(result: CliResult, first: string, others: number): void {
  expect(result.code, result.stderr).toBe(5);
  const line = expectUserError(result, /not aim's and would be replaced/);
  const count = others === 0 ? ' is' : ` and ${others} other file${others === 1 ? '' : 's'} are`;
  expect(line).toContain(`${first}${count} not aim's`);
  expect(result.stderr).toMatch(/hint: move (it|them) away, or pull again with --force/);
}
