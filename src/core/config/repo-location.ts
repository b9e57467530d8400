// Checks of a repository entry's strings that the type checks in config.ts leave open. Each value ends up in a URL,
// a request or a message: a control character or a space there is never meant, and URL parsing would silently drop
// some of them (`new URL` strips tabs and newlines), so a value that looks right in the file would not be used as is.

const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f-\u009f]/;
const REGION = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function endpointProblem(endpoint: unknown): string | undefined {
  if (typeof endpoint !== 'string' || CONTROL_OR_SPACE.test(endpoint)) return 'must be an http:// or https:// URL';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.username || url.password) return 'must not hold credentials (they come from the AWS credential chain)';
  return undefined;
}

/** Problems with a repository entry's path, region, endpoint and profile, each as `repository NAME: why`. */
export function locationProblems(name: string, repo: { type?: unknown; path?: unknown; region?: unknown; endpoint?: unknown; profile?: unknown }): string[] {
  const problems: string[] = [];
  const add = (why: string): void => void problems.push(`repository ${name}: ${why}`);
  if (repo.type === 's3' && typeof repo.path === 'string' && CONTROL_OR_SPACE.test(repo.path)) add('path must not hold spaces or control characters');
  if (repo.region !== undefined && !(typeof repo.region === 'string' && REGION.test(repo.region))) add('region must be a name like us-east-1');
  const endpoint = repo.endpoint === undefined ? undefined : endpointProblem(repo.endpoint);
  if (endpoint) add(`endpoint ${endpoint}`);
  if (repo.profile !== undefined && !(typeof repo.profile === 'string' && repo.profile !== '' && !CONTROL_OR_SPACE.test(repo.profile))) {
    add('profile must be a profile name without spaces');
  }
  return problems;
}
