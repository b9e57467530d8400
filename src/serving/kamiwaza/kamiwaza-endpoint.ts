// A deployment's OpenAI base URL, by the Kamiwaza SDK's rules: access_path on the API's host, else lb_port, else
// /runtime/models/<id>. The access path comes from the server and is untrusted: it is set as a URL's path through
// the URL API, and only a plain path is accepted, so it can never change the host, port or userinfo
// (`@evil.example/x` would otherwise turn `http://127.0.0.1` into a URL whose host is evil.example).
import { EngineError } from '../../lib/errors.js';
import type { KzDeployment } from './kamiwaza-types.js';

const PLAIN_PATH = /^(\/[A-Za-z0-9._~-]+)+\/?$/;

function plainPath(path: string): boolean {
  return PLAIN_PATH.test(path) && !path.split('/').some((segment) => segment === '.' || segment === '..');
}

function withV1(url: URL): string {
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/v1') ? path : `${path}/v1`;
  return url.href;
}

export function endpointOf(baseUrl: string, d: Pick<KzDeployment, 'id' | 'access_path' | 'lb_port'>): string {
  const base = new URL(baseUrl);
  const url = new URL(`${base.protocol}//${base.hostname}`);
  if (d.access_path) {
    const path = d.access_path.replace(/^\/api\/runtime\//, '/runtime/');
    if (!plainPath(path)) {
      throw new EngineError(`Kamiwaza gave deployment ${d.id} the access path ${JSON.stringify(d.access_path.slice(0, 100))}, which is not a plain path`, {
        hint: 'aim only accepts paths of letters, digits, "-", "_", "." and "~" on the API\'s host; check the Kamiwaza server',
      });
    }
    url.pathname = path;
  } else if (d.lb_port && d.lb_port !== 443) {
    url.port = String(d.lb_port);
  } else {
    url.pathname = `/runtime/models/${d.id}`;
  }
  if (url.hostname !== base.hostname || url.username !== '' || url.password !== '') {
    throw new EngineError(`the endpoint of Kamiwaza deployment ${d.id} would leave ${base.hostname}`, { hint: 'check the Kamiwaza server' });
  }
  return withV1(url);
}
