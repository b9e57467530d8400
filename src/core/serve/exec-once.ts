// Answering one request with no deployment running: the embedded engine loads the GGUF in its own server process
// (a malformed GGUF can abort llama.cpp, which must not take the CLI or the MCP server down with it), the request
// goes to it like to any deployment, and the server is stopped afterwards. While it runs it has a record in state
// starting that names this process as its runner: `ps` shows it as starting, a later exec never mistakes it for a
// deployment, and if this process is killed outright the record still names a server that `ps` and `stop` see.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentRecord, EngineEvent } from '../../serving/engine.js';
import { processIdentity } from '../../serving/process-identity.js';
import { checkDeploymentName } from '../format/names.js';
import { removeDeployment, runDir, saveDeployment } from './deployments.js';
import { sendExecRequest, type ExecResponse } from './exec-http.js';
import type { ExecRequest } from './exec-input.js';
import { claimName } from './recorded-start.js';
import { engineFor } from './serve-engines.js';
import type { ServingCopy } from './serve.js';

export interface OneCallOptions {
  /** What the user named, shown by `ps` meanwhile. */
  model: string;
  ctxSize?: number;
  threads?: number;
  onEvent?: (event: EngineEvent) => void;
  signal?: AbortSignal;
  home: string;
}

let calls = 0;

/** A deployment name no other call uses: the model, this process and a counter (an MCP server runs several). */
function temporaryName(model: string): string {
  calls += 1;
  return checkDeploymentName(`${model.slice(0, 64)}.exec-${process.pid}-${calls}`);
}

export async function answerWithTemporaryEngine(copy: ServingCopy, model: string, request: ExecRequest, options: OneCallOptions): Promise<ExecResponse> {
  const { home } = options;
  const name = temporaryName(model);
  await claimName(name, home);
  const engine = engineFor('embedded');
  const runner = processIdentity(process.pid);
  let last: DeploymentRecord = {
    name, state: 'starting', engine: 'embedded', model: options.model, modelId: copy.label, quant: copy.picked.quant,
    modelPath: copy.picked.path, endpoint: '', startedAt: new Date().toISOString(), ...(runner ? { runner } : {}),
  };
  // Ctrl-C, SIGTERM or the MCP client leaving: the CLI's handlers run 'exit' listeners before the process ends.
  const stopOnExit = () => {
    if (last.pid !== undefined) process.kill(last.pid, 'SIGTERM');
  };
  process.once('exit', stopOnExit);
  let answered = false;
  try {
    await saveDeployment(last, home);
    const spec = {
      name, model: options.model, modelPath: copy.picked.path, files: copy.picked.files, modelId: copy.label, quant: copy.picked.quant,
      ctxSize: options.ctxSize, threads: options.threads, runDir: runDir(home),
    };
    const ready = await engine.start(spec, options.onEvent, async (record) => {
      last = { ...record, ...(runner ? { runner } : {}) };
      await saveDeployment(last, home);
    });
    // Still recorded as starting: a later exec looks for running deployments and must not pick this one.
    last = { ...ready, state: 'starting', ...(runner ? { runner } : {}) };
    await saveDeployment(last, home);
    const response = await sendExecRequest(ready.endpoint, copy.label, request, options.signal);
    answered = true;
    return response;
  } finally {
    // A server that would not stop keeps its record, so `ps` and `stop` still see it.
    await engine.stop(last).then(() => removeDeployment(name, home));
    process.removeListener('exit', stopOnExit);
    // After a failure the log holds the engine's reason (the error's hint quotes it): kept then.
    if (answered) await rm(join(runDir(home), `${name}.log`), { force: true });
  }
}
