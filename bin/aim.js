#!/usr/bin/env node
// Thin launcher so `npm link`/`npx aim` work: the compiled CLI lives in dist/.
import '../dist/cli.js';
