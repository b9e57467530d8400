// Where the MCP pull tool may write: inside the server's root only, and a name with a NUL or another control
// character (which an agent can send in JSON, and which made the file system throw a TypeError) is a usage error.
import { describe, expect, it } from 'vitest';
import { destinationWithin } from '../../src/mcp/tools-models.js';
import { UsageError } from '../../src/lib/errors.js';

const root = '/srv/agent';

describe('destinationWithin', () => {
  it.each([['models/tiny', '/srv/agent/models/tiny'], ['.', root], ['/srv/agent/x', '/srv/agent/x']])('takes %j as %j', (dest, full) => {
    expect(destinationWithin(root, dest)).toBe(full);
  });

  it.each(['../outside', '/srv/agent2', 'x/../../etc', '/etc'])('refuses %j, outside the root', (dest) => {
    expect(() => destinationWithin(root, dest)).toThrow(/is outside the folder this server may write to/);
  });

  it.each(['a\u0000b', 'models/\u001b[2Jx', 'line\nbreak', 'tab\there'])('refuses %j, holding a control character', (dest) => {
    expect(() => destinationWithin(root, dest)).toThrow(UsageError);
    expect(() => destinationWithin(root, dest)).toThrow(/holds a control character/);
  });
});
