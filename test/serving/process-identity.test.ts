import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isSameProcess, processIdentity } from '../../src/serving/process-identity.js';

describe('process identity', () => {
  it('names this process by its start time and command line', () => {
    const me = processIdentity(process.pid)!;
    expect(me.startTime).toMatch(/^\d+$/);
    expect(me.cmdline.length).toBeGreaterThan(0);
    expect(isSameProcess(me)).toBe(true);
  });

  it('tells a process from another with the same pid but another start time or command line', () => {
    const me = processIdentity(process.pid)!;
    expect(isSameProcess({ ...me, startTime: String(Number(me.startTime) + 1) })).toBe(false);
    expect(isSameProcess({ ...me, cmdline: [...me.cmdline, '--extra'] })).toBe(false);
  });

  it('says gone for a process that exited (and was reaped) and for a pid nothing holds', async () => {
    const child = spawn('sleep', ['600']);
    const identity = await new Promise<ReturnType<typeof processIdentity>>((resolve) => child.once('spawn', () => resolve(processIdentity(child.pid!))));
    expect(identity!.cmdline).toEqual(['sleep', '600']);
    expect(isSameProcess(identity!)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(isSameProcess(identity!)).toBe(false);
    expect(processIdentity(2 ** 22 + 1)).toBeUndefined();
  });
});
