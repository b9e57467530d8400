#!/usr/bin/env node
// Thin launcher so `npm link`/`npx aim` work: the CLI is compiled to dist/ and bundled into dist/bundle/ (see
// scripts/bundle.mjs for why).
import '../dist/bundle/aim.js';
