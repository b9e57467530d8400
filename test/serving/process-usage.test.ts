import { describe, expect, it } from 'vitest';
import { processUsage } from '../../src/serving/process-usage.js';

// Usage as `aim ps` shows it, read from this very process's /proc entries.

describe('processUsage', () => {
  it('reads resident memory, CPU time and uptime of a live process', () => {
    const before = process.cpuUsage();
    for (let i = 0, x = 0; i < 5e6; i += 1) x += i; // some CPU time of our own to see
    const usage = processUsage(process.pid)!;
    expect(usage.rssBytes).toBeGreaterThan(process.memoryUsage().heapUsed / 2);
    expect(usage.cpuSeconds).toBeGreaterThan(0);
    expect(usage.cpuSeconds * 1e6).toBeLessThanOrEqual(before.user + before.system + process.cpuUsage(before).user + process.cpuUsage(before).system + 1e6);
    expect(usage.uptimeSeconds).toBeLessThanOrEqual(Math.ceil(process.uptime()) + 1);
    expect(usage.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('says nothing for a pid that is not there', () => {
    expect(processUsage(2 ** 22 + 7)).toBeUndefined();
  });
});
