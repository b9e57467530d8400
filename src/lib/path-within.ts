import { isAbsolute, relative, sep } from 'node:path';

/** Whether `path` lies strictly below `folder` (both absolute), by their names alone: no link is looked at. */
export function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
