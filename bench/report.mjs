// Turns the Recorder into tables (medians, and ratios against the issue's targets) and writes JSON + Markdown.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fmtBytes } from './lib.mjs';

const f0 = (x) => (x === undefined || !Number.isFinite(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const f2 = (x) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2));

function reasonOf(rec, ...keys) {
  for (const key of keys) {
    const row = rec.rows.get(key);
    if (!row) return `n/a: ${key} not run`;
    if (row.samples.length === 0) return [...row.notes][0] ?? `n/a: ${key} has no sample`;
  }
  return undefined;
}

/** Each target: what is compared, the measured ratio or value, and whether it meets the goal. */
export function targets(rec) {
  const s = (k) => rec.summary(k);
  const out = [];
  const ratio = (name, a, b, goal, describe) => {
    const reason = reasonOf(rec, a, b);
    if (reason) return out.push({ name, goal: `>= ${goal}x`, value: undefined, status: 'n/a', detail: reason });
    const value = s(a).mbps / s(b).mbps;
    out.push({ name, goal: `>= ${goal}x`, value, status: value >= goal ? 'PASS' : 'MISS', detail: describe ?? `${f0(s(a).mbps)} vs ${f0(s(b).mbps)} MB/s` });
  };
  ratio('push v1 vs restic backup', 'aim.push.v1', 'restic.backup.v1', 3);
  ratio('pull (cold) vs restic restore', 'aim.pull.cold', 'restic.restore', 1.5);
  ratio('verify vs restic check --read-data', 'aim.verify', 'restic.check', 1.5);
  // A share below 1x is a goal too: aim does more than copy (chunks, hashes, a repository), so it may trail cp.
  ratio('push v1 vs borg create', 'aim.push.v1', 'v1.borg.create', 1.5);
  ratio('push v1 vs cp && sync (share of its rate)', 'aim.push.v1', 'cp.sync', 0.6);
  ratio('pull v1 vs cp && sync (share of its rate)', 'aim.pull.cold', 'cp.sync', 0.9);
  // The same goal against a cp that, like the pull, reads its source from the disk: on a disk whose reads and writes
  // share one bandwidth, a copy from memory only writes, and no pull can match it.
  ratio('pull v1 vs cp from an uncached source && sync (share)', 'aim.pull.cold', 'cp.cold', 0.9);
  ratio('push v1 from an uncached source vs cp from one && sync (share)', 'aim.push.cold', 'cp.cold', 0.6);
  // The issue's own protocol: the page cache emptied before each command, sync inside the timing.
  ratio('pull v1 vs cp, page cache dropped before each (share)', 'aim.pull.dropped', 'cp.dropped', 0.9);
  // The same protocol against the plainest copy of the very bytes the pull reads: what is left between aim and the disk.
  ratio('pull v1 vs copying the packs it reads (cat && sync), page cache dropped before each (share)', 'aim.pull.dropped', 'disk.copy.packs', 0.9);
  // restic reads the packs its backup just wrote through the page cache, where they still are; aim's push writes its
  // packs around it, so its pull and verify read the disk. The issue's protocol empties the cache for both.
  ratio('pull v1 vs restic restore, page cache dropped before each', 'aim.pull.dropped', 'restic.restore.dropped', 1.5);
  ratio('verify vs restic check --read-data, page cache dropped before each', 'aim.verify.dropped', 'restic.check.dropped', 1.5);
  ratio('model folder: push vs restic backup', 'model.aim.push', 'model.restic.backup', 1);
  ratio('model folder: push vs borg create', 'model.aim.push', 'model.borg.create', 1.5);
  ratio('model folder: push vs cp -a && sync (share)', 'model.aim.push', 'model.cp', 0.6);
  ratio('model folder: pull vs cp -a && sync (share)', 'model.aim.pull', 'model.cp', 0.9);
  ratio('model folder: pull vs cp -a from an uncached source && sync (share)', 'model.aim.pull', 'model.cp.cold', 0.9);
  ratio('tiny files: pull vs restic restore', 'tiny.aim.pull', 'tiny.restic.restore', 1.5);
  ratio('tiny files: push vs restic backup', 'tiny.aim.push', 'tiny.restic.backup', 1);
  {
    const reason = reasonOf(rec, 'aim.push.v1', 'aim.push.same');
    if (reason) out.push({ name: 'unchanged re-push vs first push (speed-up)', goal: '>= 10x', status: 'n/a', detail: reason });
    else {
      const value = s('aim.push.v1').wall / s('aim.push.same').wall;
      out.push({ name: 'unchanged re-push vs first push (speed-up)', goal: '>= 10x', value, status: value >= 10 ? 'PASS' : 'MISS', detail: `${f2(s('aim.push.v1').wall)} s vs ${f2(s('aim.push.same').wall)} s` });
    }
  }
  for (const v of ['v2', 'ins']) {
    const name = `dedupe: bytes stored for ${v} vs restic`;
    const reason = reasonOf(rec, `aim.push.${v}`, `restic.backup.${v}`);
    if (reason) { out.push({ name, goal: '<= 1x', status: 'n/a', detail: reason }); continue; }
    const a = s(`aim.push.${v}`).added;
    const b = s(`restic.backup.${v}`).added;
    const value = a / b;
    // restic draws a random chunker polynomial for each repository (one per round), so its figure moves between rounds.
    const [low, high] = s(`restic.backup.${v}`).addedRange;
    const spread = s(`restic.backup.${v}`).n > 1 ? ` (restic's rounds ${fmtBytes(low)}–${fmtBytes(high)})` : '';
    out.push({ name, goal: '<= 1x', value, status: a <= b ? 'PASS' : 'MISS', detail: `${fmtBytes(a)} vs ${fmtBytes(b)}${spread}` });
  }
  {
    const keys = [...rec.rows.keys()].filter((k) => /^(?:model\.|tiny\.)?aim\.(push|pull|verify)/.test(k) && rec.summary(k)?.rssMiB !== undefined);
    if (keys.length === 0) out.push({ name: 'peak RSS of aim (local rows)', goal: '< 300 MiB', status: 'n/a', detail: 'no RSS measured' });
    else {
      const worst = keys.reduce((a, b) => (s(a).rssMiB >= s(b).rssMiB ? a : b));
      const value = s(worst).rssMiB;
      out.push({ name: 'peak RSS of aim (local rows)', goal: '< 300 MiB', value, unit: 'MiB', status: value < 300 ? 'PASS' : 'MISS', detail: `max over rounds, in ${rec.rows.get(worst).label}` });
    }
    const big = s('aim.big.push');
    if (big) out.push({ name: 'peak RSS of aim push, big file', goal: '< 300 MiB', value: big.rssMiB, unit: 'MiB', status: big.rssMiB < 300 ? 'PASS' : 'MISS', detail: fmtBytes(big.bytes) });
  }
  ratio('S3 push v1 vs rclone copy up', 'aim.s3.push.v1', 'rclone.s3.up', 1);
  ratio('S3 pull v1 vs rclone copy down', 'aim.s3.pull.cold', 'rclone.s3.down', 1);
  ratio('radosgw: S3 push v1 vs rclone copy up', 'aim.rgw.push.v1', 'rclone.rgw.up', 1);
  ratio('radosgw: S3 pull v1 vs rclone copy down', 'aim.rgw.pull.cold', 'rclone.rgw.down', 1.5);
  for (const [k, l] of [['start.version', 'aim --version'], ['start.repolist', 'aim repo list'], ['start.ps', 'aim ps']]) {
    const name = `start-up: ${l}`;
    const reason = reasonOf(rec, k);
    if (reason) { out.push({ name, goal: '< 250 ms', status: 'n/a', detail: reason }); continue; }
    const value = s(k).wall * 1000;
    out.push({ name, goal: '< 250 ms', value, unit: 'ms', status: value < 250 ? 'PASS' : 'MISS', detail: `median of ${s(k).n}` });
  }
  return out;
}

export function markdown(rec, meta, goals) {
  const lines = [];
  lines.push(`# aim benchmark — ${meta.started}`, '');
  const m = meta.machine;
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.filesystem ?? '?'} (kernel ${m.kernel}), Node ${m.node}; load average ${m.loadAtStart?.join(' ')} at start, ${m.loadavg?.join(' ')} at the end (other work on the box skews figures).`);
  lines.push(`Tools: ${Object.entries(m.tools).map(([k, v]) => `${k} ${v ?? 'missing'}`).join('; ')}.`);
  lines.push(`Data: ${fmtBytes(meta.size)} per variant (v1; v2 = 5 % changed in 8 regions; ins = 1 KiB inserted at 4096), ${meta.smallFiles} small files (${fmtBytes(meta.smallBytes)})${(meta.shapes ?? []).map((shape) => `; ${shape.group}`).join('')}; ${meta.rounds} round(s), medians; data in the page cache; every repository new and tool caches removed before its rows; sync before each clock starts and inside it after each command (what a command leaves to the kernel to write back is charged to it: the column "of which sync s"); MB/s = 10^6 B/s of logical data over whole-process wall time; peak RSS = max over rounds (${meta.rssSource}).`, '');
  if (meta.notes.length) lines.push(...meta.notes.map((n) => `> ${n}`), '');
  lines.push('| group | operation | MB/s (wall) | aim internal MB/s | wall s | of which sync s | peak RSS MiB | stored (added) | n | note |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const row of rec.rows.values()) {
    const s = rec.summary(row.key);
    const note = [...row.notes].join('; ');
    const wall = row.key.startsWith('start.') ? (s ? `${f0(s.wall * 1000)} ms` : '—') : f2(s?.wall);
    const rate = row.key.startsWith('start.') ? '' : f0(s?.mbps);
    lines.push(`| ${row.group} | ${row.label} | ${rate} | ${f0(s?.internalMbps)} | ${wall} | ${row.key.startsWith('start.') ? '' : f2(s?.sync)} | ${f0(s?.rssMiB)} | ${s?.added !== undefined ? fmtBytes(s.added) : ''} | ${s?.n ?? 0} | ${note} |`);
  }
  lines.push('', '## Targets', '', '| target | goal | measured | result | detail |', '|---|---|---:|---|---|');
  for (const g of goals) {
    const v = g.value === undefined ? '—' : g.unit ? `${f0(g.value)} ${g.unit}` : `${f2(g.value)}x`;
    lines.push(`| ${g.name} | ${g.goal} | ${v} | ${g.status === 'n/a' ? 'n/a' : `**${g.status}**`} | ${g.detail ?? ''} |`);
  }
  lines.push('');
  return lines.join('\n');
}

export async function writeResults(rec, meta, goals, resultsDir) {
  const stamp = meta.started.replace(/[:.]/g, '-');
  const dir = join(resultsDir, stamp);
  await mkdir(dir, { recursive: true });
  const rows = [...rec.rows.values()].map((row) => ({ key: row.key, group: row.group, label: row.label, notes: [...row.notes], summary: rec.summary(row.key), samples: row.samples }));
  await writeFile(join(dir, 'results.json'), `${JSON.stringify({ ...meta, rows, targets: goals }, null, 2)}\n`);
  const md = markdown(rec, meta, goals);
  await writeFile(join(dir, 'results.md'), md);
  await writeFile(join(resultsDir, 'latest.md'), md);
  return { dir, md };
}
