// Loaded with `node --import` when GNU time is missing: writes this process's peak RSS (KiB) to AIM_BENCH_RSS_FILE at exit.
import { writeFileSync } from 'node:fs';

const file = process.env.AIM_BENCH_RSS_FILE;
if (file) {
  delete process.env.AIM_BENCH_RSS_FILE;
  process.on('exit', () => {
    try { writeFileSync(file, `${process.resourceUsage().maxRSS}\n`); } catch {}
  });
}
