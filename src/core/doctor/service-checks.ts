// `aim doctor` on the serving side: the embedded engine's llama.cpp binding loads (in a child process, the way a
// deployment loads it, so the CLI itself never loads node-llama-cpp), and the Kamiwaza server answers when one is
// configured.
import * as v from 'valibot';
import { askServerScript } from '../../serving/embedded/llama.js';
import type { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import type { AimConfig } from '../config/config.js';
import { engineFor } from '../serve/serve-engines.js';
import { failureOf, fail, ok, within, type Finding } from './finding.js';

/** Loading the binding takes a few seconds on a slow disk; past this it is stuck. */
const BINDING_MS = 60_000;
const KAMIWAZA_MS = 30_000;

const BindingReply = v.object({ ok: v.boolean(), error: v.optional(v.pipe(v.string(), v.maxLength(2000))) });

export async function engineFinding(): Promise<Finding> {
  const check = 'embedded engine';
  const hint = 'reinstall aim so node-llama-cpp brings its prebuilt binary for this platform, or serve with --engine kamiwaza';
  const { reply, failure } = await askServerScript('--check-binding', BindingReply, BINDING_MS);
  if (reply?.ok) return ok(check, "llama.cpp's binding loads");
  return fail(check, `llama.cpp's binding does not load: ${reply ? reply.error : failure}`, hint);
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
