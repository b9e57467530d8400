// Loaded with `node --import` by the hostile harness: writes the process's peak RSS (KiB) to AIM_TEST_RSS_FILE at exit.
import { writeFileSync } from 'node:fs';

const file = process.env.AIM_TEST_RSS_FILE;
if (file) {
  delete process.env.AIM_TEST_RSS_FILE;
  process.on('exit', () => {
    try {
      writeFileSync(file, `${process.resourceUsage().maxRSS}\n`);
    } catch {
      // the measurement is best effort; a missing file only skips the memory check
    }
  });
}
