import { IntegrityError } from '../lib/errors.js';

/**
 * A key's path segments, refused when one is empty, `.` or `..`: joined into a path or resolved as a URL such a
 * segment would reach outside the repository. Keys are built from validated names, so only a damaged or hostile
 * name read from the repository gets here.
 */
export function keySegments(key: string, location: string): string[] {
  const segments = key.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new IntegrityError(`${JSON.stringify(key)} is not a key inside ${location}; not reaching for it`, {
      hint: 'a name read from the repository is damaged or hostile: run `aim verify` on the repository',
    });
  }
  return segments;
}
