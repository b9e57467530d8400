import { describe, expect, it } from 'vitest';
import { processUsage } from '../../src/serving/process-usage.js';

// Usage as `aim ps` shows it, read from this very process's /proc entries.

describe('processUsage', () => {
  it('reads resident memory, CPU time and uptime of a live process', () => {
    const usage = processUsage(process.pid)!;
    const cpu = process.cpuUsage();
    expect(usage.rssBytes).toBeGreaterThan(process.memoryUsage().heapUsed / 2);
    // /proc counts in ticks of 10 ms, Node in microseconds: the same time within a few ticks.
    expect(Math.abs(usage.cpuSeconds - (cpu.user + cpu.system) / 1e6)).toBeLessThan(0.1);
    expect(usage.uptimeSeconds).toBeLessThanOrEqual(Math.ceil(process.uptime()) + 1);
    expect(usage.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('says nothing for a pid that is not there', () => {
    expect(processUsage(2 ** 22 + 7)).toBeUndefined();
  });
});
