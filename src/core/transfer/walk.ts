import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, relative, resolve, sep } from 'node:path';
import { NotFoundError, UsageError } from '../../lib/errors.js';

// What a push sends: every regular file under the folder (or the one file given), in a stable order. Symlinks are
// followed only while they stay inside the folder, so a push never uploads /etc/passwd because a link said so.

export interface SourceFile {
  /** Relative, `/`-separated path as it will appear in the manifest. */
  path: string;
  absolute: string;
  size: number;
  mode: number;
  mtimeMs: number;
  ino: number;
}

export interface WalkOptions {
  include?: string[];
  exclude?: string[];
}

export interface WalkResult {
  files: SourceFile[];
  /** Symlinks skipped because they point outside the folder or nowhere. */
  skipped: string[];
}

function toSource(path: string, absolute: string, info: Awaited<ReturnType<typeof stat>>): SourceFile {
  return { path, absolute, size: Number(info.size), mode: Number(info.mode) & 0o777, mtimeMs: Number(info.mtimeMs), ino: Number(info.ino) };
}

export async function walkSource(source: string, options: WalkOptions = {}): Promise<WalkResult> {
  const root = resolve(source);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new NotFoundError(`${root} does not exist`, { hint: 'check the path of the folder or file to push' });
  if (info.isFile()) return { files: [toSource(basename(root), root, info)], skipped: [] };
  if (!info.isDirectory()) throw new UsageError(`${root} is neither a file nor a folder`, { hint: 'push a folder or a regular file' });

  const realRoot = await realpath(root);
  // Loaded here, not at start-up: only pushes walk folders.
  const { default: fg } = await import('fast-glob');
  const entries = await fg(options.include?.length ? options.include : ['**'], {
    cwd: root,
    dot: true,
    onlyFiles: false,
    followSymbolicLinks: false,
    ignore: ['.aim/**', ...(options.exclude ?? [])],
  });
  const files: SourceFile[] = [];
  const skipped: string[] = [];
  for (const path of entries.sort()) {
    const absolute = resolve(root, path);
    const link = await lstat(absolute);
    if (link.isDirectory()) continue;
    if (link.isSymbolicLink()) {
      const target = await realpath(absolute).catch(() => undefined);
      const inside = target !== undefined && (target === realRoot || target.startsWith(realRoot + sep));
      const targetInfo = inside ? await stat(target) : undefined;
      if (!targetInfo?.isFile()) {
        skipped.push(path);
        continue;
      }
      files.push(toSource(path, absolute, targetInfo));
    } else if (link.isFile()) {
      files.push(toSource(path, absolute, link));
    }
  }
  if (files.length === 0) {
    throw new NotFoundError(`no files to push under ${root}${options.include?.length ? ` matching ${options.include.join(', ')}` : ''}`, {
      hint: 'check the folder and the --include/--exclude patterns',
    });
  }
  return { files, skipped: skipped.map((path) => relative(root, resolve(root, path)).split(sep).join('/')) };
}
