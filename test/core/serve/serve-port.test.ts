import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/lib/errors.js';
import { bindProblem, choosePort } from '../../../src/core/serve/serve-port.js';
import { takenPort } from '../../helpers/thrown.js';

// The port check `aim run` makes before it pulls anything, against real sockets.

let taken: number;
let release: () => Promise<void>;
beforeAll(async () => {
  ({ port: taken, release } = await takenPort());
});
afterAll(() => release());

describe('choosePort', () => {
  it('leaves 0 to the engine and passes a free port through', async () => {
    expect(await choosePort({ first: 0, last: 0 })).toBe(0);
    const free = taken + 1 <= 65535 && !(await bindProblem(taken + 1)) ? taken + 1 : undefined;
    if (free !== undefined) expect(await choosePort({ first: free, last: free })).toBe(free);
  });

  it('refuses a taken port with a plain EngineError', async () => {
    await expect(choosePort({ first: taken, last: taken })).rejects.toThrow(EngineError);
    await expect(choosePort({ first: taken, last: taken })).rejects.toThrow(`port ${taken} on 127.0.0.1 is already in use`);
  });

  it('takes the next port of a range when the first is taken, and names the range when none binds', async () => {
    const chosen = await choosePort({ first: taken, last: Math.min(taken + 20, 65535) });
    expect(chosen).toBeGreaterThan(taken);
    expect(await bindProblem(chosen)).toBeUndefined();
    await expect(choosePort({ first: taken, last: taken }).catch((e: Error) => e.message)).resolves.toContain('already in use');
  });

  it('refuses a privileged port for a user without privileges (EACCES)', () => {
    // As root every port binds; the check runs as `nobody` then, the way an ordinary user would meet it.
    const module = fileURLToPath(new URL('../../../dist/core/serve/serve-port.js', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then((m) => m.choosePort({ first: 80, last: 80 })).then(() => console.log('bound'), (e) => console.log(e.constructor.name + ': ' + e.message))`;
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...asUser });
    expect(out.stdout.trim()).toBe('EngineError: port 80 on 127.0.0.1 cannot be bound: ports below 1024 need privileges aim does not have (EACCES)');
  });
});
