// The scale benchmark's table: one row per build, backend, size and operation; medians over the rounds (wall time
// also as min-max, since the first push of an older build merges index files and later ones do not), the largest
// peak RSS, and the I/O counts (n/a for a build without AIM_IO_STATS). Written as results.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fmtBytes, median } from './lib.mjs';

const OPS = ['push v1', 'pull', 'pull warm', 'verify', 'push v2'];

export function summarize(samples) {
  const groups = new Map();
  for (const s of samples) {
    const key = `${s.build}|${s.backend}|${s.size}|${s.op}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  const rows = [...groups.values()].map((group) => {
    const ok = group.filter((s) => s.error === undefined);
    const walls = ok.map((s) => s.wall);
    const io = ok.map((s) => s.io).filter(Boolean);
    const mid = (pick) => (io.length ? median(io.map(pick)) : undefined);
    const { build, backend, size, entries, op } = group[0];
    return {
      build, backend, size, entries, op,
      runs: ok.length,
      errors: group.filter((s) => s.error !== undefined).map((s) => s.error),
      wall: median(walls),
      wallMin: walls.length ? Math.min(...walls) : undefined,
      wallMax: walls.length ? Math.max(...walls) : undefined,
      rssMiB: ok.some((s) => s.rssKiB) ? Math.max(...ok.map((s) => s.rssKiB ?? 0)) / 1024 : undefined,
      requests: mid((x) => x.requests),
      metadataRead: mid((x) => x.metadataRead),
      indexRead: mid((x) => x.indexRead),
      indexWritten: mid((x) => x.indexWritten),
      load: median(group.map((s) => s.load)),
    };
  });
  const order = (r) => [r.backend, r.build === 'before' ? 0 : 1, r.entries ?? 0, OPS.indexOf(r.op)];
  return rows.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  });
}

const num = (x, digits = 2) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const bytes = (x) => (x === undefined ? 'n/a' : fmtBytes(x));

export function markdown(rows, meta) {
  const lines = [
    `# aim scale benchmark, ${meta.started}`,
    '',
    `Foreign chunks synthesized into the repository's index (bytes absent); a ${meta.options.modelSize} model pushed (v1, then v2 with 5 % changed),`,
    `pulled (fresh AIM_HOME, then again with the same one: "pull warm") and verified, each command a new process with a fresh AIM_HOME.`,
    `${meta.options.rounds} round(s) per size, medians (wall also min-max); peak RSS: the largest, from ${meta.rssSource}. Metadata read: every byte read but packs/.`,
    `Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, ${meta.machine.memoryGiB} GiB, ${meta.machine.node}; load (1, 5, 15 min) at the start ${meta.loadAtStart.join(' ')}, at the end ${meta.loadAtEnd.join(' ')}.`,
    '',
    '| backend | build | foreign chunks | operation | wall s (median) | min-max | peak RSS MiB | requests | metadata read | index/ read | index/ written | load |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const wall = r.runs ? num(r.wall) : `error: ${r.errors[0]?.slice(0, 80)}`;
    const io = r.build === 'before' && r.requests === undefined ? ['n/a', 'n/a', 'n/a', 'n/a'] : [num(r.requests, 0), bytes(r.metadataRead), bytes(r.indexRead), bytes(r.indexWritten)];
    lines.push(`| ${r.backend} | ${r.build} | ${(r.entries ?? 0).toLocaleString('en')} | ${r.op} | ${wall} | ${num(r.wallMin)}-${num(r.wallMax)} | ${num(r.rssMiB, 0)} | ${io.join(' | ')} | ${num(r.load, 1)} |`);
  }
  return `${lines.join('\n')}\n`;
}

export async function writeScaleResults(samples, meta, resultsRoot) {
  const rows = summarize(samples);
  const dir = join(resultsRoot, `${meta.started.replace(/[:.]/g, '-')}-scale`);
  await mkdir(dir, { recursive: true });
  const md = markdown(rows, meta);
  await writeFile(join(dir, 'results.json'), `${JSON.stringify({ meta, rows, samples }, null, 2)}\n`);
  await writeFile(join(dir, 'results.md'), md);
  return { dir, md };
}
