// Puts the rows of two or more bench:scale runs side by side (before/after): `node bench/scale-compare.mjs A/results.json B/results.json`.
import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
const rows = files.flatMap((f) => JSON.parse(readFileSync(f, 'utf8')).rows);
const key = (r) => `${r.backend}|${r.size}|${r.op}`;
const by = new Map();
for (const r of rows) { const k = key(r); if (!by.has(k)) by.set(k, {}); by.get(k)[r.build] = r; }
const f = (x, d = 2) => (x === undefined ? '—' : x.toFixed(d));
const kb = (x) => (x === undefined ? 'n/a' : x >= 1e6 ? `${(x / 1e6).toFixed(1)} MB` : `${(x / 1e3).toFixed(1)} kB`);
console.log('| backend | foreign chunks | operation | before: wall s | before: peak RSS MiB | after: wall s | after: peak RSS MiB | after: requests | after: metadata read |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|');
const ops = ['push v1', 'pull', 'pull warm', 'verify', 'push v2'];
const sizes = [...new Set(rows.map((r) => r.size))].sort((a, b) => rows.find((r) => r.size === a).entries - rows.find((r) => r.size === b).entries);
for (const backend of ['local', 'radosgw']) for (const size of sizes) for (const op of ops) {
  const g = by.get(`${backend}|${size}|${op}`); if (!g) continue;
  const b = g.before, a = g.after;
  const cell = (r) => r ? `${f(r.wall)} (${f(r.wallMin)}–${f(r.wallMax)})` : 'not run';
  console.log(`| ${backend} | ${size} | ${op} | ${cell(b)} | ${b ? f(b.rssMiB, 0) : '—'} | ${cell(a)} | ${a ? f(a.rssMiB, 0) : '—'} | ${a ? f(a.requests, 0) : '—'} | ${a ? kb(a.metadataRead) : '—'} |`);
}
