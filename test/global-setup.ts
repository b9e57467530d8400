// Global setup for the whole suite. Starts nothing yet besides checking the CLI was built; the S3 server joins here.
import { existsSync } from 'node:fs';

export default function setup(): void {
  if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
    throw new Error('dist/cli.js is missing: run `npm test` (it builds first) or `npm run build`');
  }
}
