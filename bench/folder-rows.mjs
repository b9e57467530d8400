// Rows for one folder of data, tool by tool: each tool puts the folder into a fresh repository (or store) of its own,
// with a cold cache, then takes it out into an empty folder. Used for the data shapes (every tool) and for v1 (borg
// and casync, whose rows stand beside the v1 rows of aim, restic and cp in suites.mjs). `timed` syncs before each
// clock starts, so no row pays for what the one before left dirty.
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { check, duBytes, have, run, timed, uncachedCopy } from './lib.mjs';
import { aimOp, guard, log, resticEnv } from './suites.mjs';

/** Bytes in the regular files under `dir`, however deep (restic restores under the path it backed up). */
function fileBytes(dir) {
  const r = run('find', [dir, '-type', 'f', '-printf', '%s\n']);
  return r.stdout.split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line), 0);
}

/**
 * One timed command as a row. `restored`: the folder it fills, whose files must add up to `bytes` afterwards, so
 * a tool that silently skipped files cannot post a fast row.
 */
async function timedRow(rec, key, label, group, bytes, cmd, args, { env, cwd, repo, restored } = {}) {
  await guard(rec, key, label, group, async () => {
    const before = repo ? duBytes(repo) : undefined;
    const r = check(await timed(cmd, args, { env, cwd }), label);
    const got = restored ? fileBytes(restored) : bytes;
    if (got !== bytes) throw new Error(`${label}: ${got} bytes in the restored files, ${bytes} expected`);
    rec.add(key, label, group, { bytes, wall: r.wall, sync: r.sync, rssKiB: r.rssKiB, added: repo ? duBytes(repo) - before : undefined });
    log(label, r, bytes);
  });
}

/**
 * A folder of at least this many files (restored folders, casync's chunk stores) is set aside between rows instead of
 * deleted, and deleted after the last round (`emptySetAside`). On ext4 without a journal, the kind of disk this
 * benchmark runs on, the file system will not reuse an inode freed in the last minute and checks every such inode
 * each time it allocates one (docs/benchmarks.md, "Tiny files pulled with one sync"): deleting one tool's 10,000
 * restored files, or casync's store of a gigabyte in 64 KiB chunk files, right before the next rows created theirs
 * made those rows pay for that cleanup.
 */
const SET_ASIDE_FROM_FILES = 1000;

let setAsideCount = 0;

/** Whether the folder holds at least SET_ASIDE_FROM_FILES entries, however deep (stops counting there). */
async function holdsMany(folder) {
  let count = 0;
  const folders = [folder];
  while (folders.length > 0 && count < SET_ASIDE_FROM_FILES) {
    const entries = await readdir(folders.pop(), { withFileTypes: true }).catch(() => []);
    count += entries.length;
    for (const entry of entries) if (entry.isDirectory()) folders.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return count >= SET_ASIDE_FROM_FILES;
}

/** Empties `folders` for the next row: each deleted, or moved under work/set-aside when it holds many files. */
async function fresh(ctx, ...folders) {
  const aside = join(ctx.work, 'set-aside');
  for (const folder of folders) {
    if (!(await holdsMany(folder))) {
      await rm(folder, { recursive: true, force: true });
      continue;
    }
    await mkdir(aside, { recursive: true });
    await rename(folder, join(aside, String(setAsideCount++)));
  }
}

/** Deletes what `fresh` set aside: once no row is left to pay for it. */
export async function emptySetAside(ctx) {
  await rm(join(ctx.work, 'set-aside'), { recursive: true, force: true });
}

/** Marks a tool's rows n/a when it is not installed; says whether it is. */
function present(rec, tool, group, rows) {
  if (have(tool)) return true;
  for (const [key, label] of rows) rec.na(key, label, group, `n/a: ${tool} is not installed`);
  return false;
}

export async function aimFolderRows(ctx, rec, subject, group) {
  const { key, name, dir, bytes } = subject;
  const dest = join(ctx.work, 'folder-dest');
  await fresh(ctx, ctx.shapeRepo, dest);
  await mkdir(ctx.shapeRepo, { recursive: true });
  await aimOp(ctx, rec, `${key}.aim.push`, `aim push ${name} (empty repo)`, ['model', 'push', 'shapes', key, dir, '--tag', 'v1'], { bytes, repo: ctx.shapeRepo, group });
  await aimOp(ctx, rec, `${key}.aim.pull`, `aim pull ${name} (empty dest)`, ['model', 'pull', 'shapes', key, dest, '--tag', 'v1'], { bytes, group });
  // What a pull costs when nothing changed: a look at each file (no peer here restores only what changed).
  await aimOp(ctx, rec, `${key}.aim.repull`, `aim pull ${name} again (every file in place)`, ['model', 'pull', 'shapes', key, dest, '--tag', 'v1'], { bytes, group });
  await fresh(ctx, ctx.shapeRepo, dest);
}

export async function resticFolderRows(ctx, rec, subject, group) {
  const { key, name, dir, bytes } = subject;
  const rows = [[`${key}.restic.backup`, `restic backup ${name} (empty repo)`], [`${key}.restic.restore`, `restic restore ${name} (empty dest)`]];
  if (!present(rec, 'restic', group, rows)) return;
  const repo = join(ctx.work, 'folder-restic-repo');
  const dest = join(ctx.work, 'folder-dest');
  const env = resticEnv(ctx);
  await fresh(ctx, repo, dest, join(ctx.work, 'restic-cache'));
  const init = run('restic', ['-r', repo, 'init'], { env });
  if (init.status !== 0) return rec.na(rows[0][0], rows[0][1], group, `error: restic init: ${init.stderr.trim().split('\n')[0]}`);
  // Backing up `.` from inside the folder makes the restore land in dest itself, as every other tool's does.
  await timedRow(rec, ...rows[0], group, bytes, 'restic', ['-r', repo, 'backup', '--json', '.'], { env, cwd: dir, repo });
  await timedRow(rec, ...rows[1], group, bytes, 'restic', ['-r', repo, 'restore', 'latest', '--target', dest], { env, restored: dest });
  await fresh(ctx, repo, dest);
}

export function borgEnv(ctx) {
  // BORG_BASE_DIR holds borg's cache and security folders; removed before each repository for a cold cache.
  return { ...process.env, BORG_BASE_DIR: join(ctx.work, 'borg-home'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' };
}

export async function borgFolderRows(ctx, rec, subject, group) {
  const { key, name, dir, bytes } = subject;
  const rows = [[`${key}.borg.create`, `borg create ${name} (empty repo)`], [`${key}.borg.extract`, `borg extract ${name} (empty dest)`]];
  if (!present(rec, 'borg', group, rows)) return;
  const repo = join(ctx.work, 'folder-borg-repo');
  const dest = join(ctx.work, 'folder-dest');
  const env = borgEnv(ctx);
  await fresh(ctx, repo, dest, env.BORG_BASE_DIR);
  await mkdir(dest, { recursive: true });
  const init = run('borg', ['init', '-e', 'none', repo], { env });
  if (init.status !== 0) return rec.na(rows[0][0], rows[0][1], group, `error: borg init: ${init.stderr.trim().split('\n')[0]}`);
  await timedRow(rec, ...rows[0], group, bytes, 'borg', ['create', '--compression', 'none', `${repo}::v1`, '.'], { env, cwd: dir, repo });
  await timedRow(rec, ...rows[1], group, bytes, 'borg', ['extract', `${repo}::v1`], { env, cwd: dest, restored: dest });
  await fresh(ctx, repo, dest, env.BORG_BASE_DIR);
}

export async function casyncFolderRows(ctx, rec, subject, group) {
  const { key, name, dir, bytes } = subject;
  const rows = [[`${key}.casync.make`, `casync make ${name} (empty store)`], [`${key}.casync.extract`, `casync extract ${name} (empty dest)`]];
  if (!present(rec, 'casync', group, rows)) return;
  const store = join(ctx.work, 'folder-casync-store');
  const index = join(ctx.work, 'folder.caidx');
  const dest = join(ctx.work, 'folder-dest');
  await fresh(ctx, store, index, dest);
  await timedRow(rec, ...rows[0], group, bytes, 'casync', ['make', `--store=${store}`, index, dir], { repo: store });
  await timedRow(rec, ...rows[1], group, bytes, 'casync', ['extract', `--store=${store}`, index, dest], { restored: dest });
  await fresh(ctx, store, index, dest);
}

/** The plain copies a user would reach for, each ending in sync as the v1 cp row does (aim's pull makes its files durable). */
export async function copyFolderRows(ctx, rec, subject, group) {
  const { key, name, dir, bytes } = subject;
  const dest = join(ctx.work, 'folder-dest');
  const copies = [
    [`${key}.tar`, `tar pipe ${name} && sync`, 'tar -C "$1" -cf - . | tar -C "$2" -xf - && sync'],
    [`${key}.cp`, `cp -a ${name} && sync`, 'cp -a "$1"/. "$2"/ && sync'],
  ];
  for (const [rowKey, label, script] of copies) {
    await fresh(ctx, dest);
    await mkdir(dest, { recursive: true });
    await timedRow(rec, rowKey, label, group, bytes, 'sh', ['-c', script, 'sh', dir, dest], { restored: dest });
  }
  // cp -a as aim's pull meets it: reading from the disk, not from memory. Only for folders of a few files: the copy
  // runs dd once per file.
  if (subject.files <= UNCACHED_COPY_MAX_FILES) {
    const cold = join(ctx.work, 'folder-uncached');
    uncachedCopy(dir, cold);
    await fresh(ctx, dest);
    await mkdir(dest, { recursive: true });
    await timedRow(rec, `${key}.cp.cold`, `cp -a ${name} (source not cached) && sync`, group, bytes, 'sh', ['-c', copies[1][2], 'sh', cold, dest], { restored: dest });
    await rm(cold, { recursive: true, force: true });
  }
  await fresh(ctx, dest);
}

const UNCACHED_COPY_MAX_FILES = 200;

/**
 * Every tool on one data shape, starting one tool later each round: the first tool of a round runs right after the
 * rows before it deleted their outputs (gigabytes in few files, which are not set aside), so that place goes round
 * instead of falling on aim every time.
 */
export async function shapeRound(ctx, rec, subject, round = 1) {
  const tools = [aimFolderRows, resticFolderRows, borgFolderRows, casyncFolderRows, copyFolderRows];
  const first = (round - 1) % tools.length;
  for (const rows of [...tools.slice(first), ...tools.slice(0, first)]) await rows(ctx, rec, subject, subject.group);
}

/** borg and casync on v1, next to the v1 rows of aim, restic and cp. */
export async function peersRound(ctx, rec, data) {
  const subject = { key: 'v1', name: 'v1', dir: data.v1.dir, bytes: data.v1.bytes };
  await borgFolderRows(ctx, rec, subject, 'borg (local repo, --compression none)');
  await casyncFolderRows(ctx, rec, subject, 'casync (local store)');
}
