// `aim doctor` on the serving side: the embedded engine's llama.cpp binding loads (in a child process, the way a
// deployment loads it, so the CLI itself never loads node-llama-cpp), and the Kamiwaza server answers when one is
// configured.
import { execFile } from 'node:child_process';
import * as v from 'valibot';
import { serverScriptPath } from '../../serving/embedded/llama.js';
import type { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import type { AimConfig } from '../config/config.js';
import { engineFor } from '../serve/serve-engines.js';
import { failureOf, fail, ok, within, type Finding } from './finding.js';

/** Loading the binding takes a few seconds on a slow disk; past this it is stuck. */
const BINDING_MS = 60_000;
const KAMIWAZA_MS = 30_000;

const BindingReply = v.object({ ok: v.boolean(), error: v.optional(v.pipe(v.string(), v.maxLength(2000))) });

export function engineFinding(): Promise<Finding> {
  const check = 'embedded engine';
  const hint = 'reinstall aim so node-llama-cpp brings its prebuilt binary for this platform, or serve with --engine kamiwaza';
  return new Promise((resolve) => {
    execFile(process.execPath, [serverScriptPath(), '--check-binding'], { timeout: BINDING_MS, maxBuffer: 64 * 1024 }, (error, stdout) => {
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      let parsed: unknown;
      try {
        parsed = JSON.parse(lastLine);
      } catch {
        parsed = undefined;
      }
      const reply = v.safeParse(BindingReply, parsed);
      if (reply.success && reply.output.ok) return resolve(ok(check, "llama.cpp's binding loads"));
      const why = reply.success ? reply.output.error : error?.killed ? `did not load within ${BINDING_MS / 1000} s` : (error?.message.split('\n')[0] ?? 'no answer');
      resolve(fail(check, `llama.cpp's binding does not load: ${why}`, hint));
    });
  });
}

export async function kamiwazaFinding(config: AimConfig, url: string | undefined): Promise<Finding | undefined> {
  if (!url) return undefined;
  const check = 'kamiwaza';
  try {
    const engine = engineFor('kamiwaza', config, undefined, url) as KamiwazaEngine;
    await within(KAMIWAZA_MS, url, engine.preflight());
    return ok(check, `${url} answers and accepts the API key`);
  } catch (error) {
    return failureOf(check, error, 'check KAMIWAZA_BASE_URL (or aim.kamiwaza.url) and KAMIWAZA_API_KEY');
  }
}
