// exec = one OpenAI-style request answered by a model version, for scripts and agents: sent to a running deployment
// of that version when there is one (left running), otherwise the version is pulled if needed, loaded for the call
// and released after. A deployment serves "that version" when its GGUF lies in the version's folder in AIM_HOME,
// which is keyed by digest: a tag that moved since names another version, and another deployment is not used.
import type { EngineEvent, LiveDeployment } from '../../serving/engine.js';
import { UsageError } from '../../lib/errors.js';
import { isInside } from '../../lib/path-within.js';
import { aimHome } from '../../settings/home.js';
import type { ProgressSink } from '../progress.js';
import type { Session } from '../session.js';
import { listDeployments } from './deployment-status.js';
import { sendExecRequest, type ExecResponse } from './exec-http.js';
import type { ExecRequest } from './exec-input.js';
import { answerWithTemporaryEngine } from './exec-once.js';
import { prepareServing, resolveTarget } from './serve.js';
import { locateServed } from './served-files.js';

export interface ExecOptions {
  quant?: string;
  ctxSize?: number;
  threads?: number;
  progress?: ProgressSink;
  onEvent?: (event: EngineEvent) => void;
  signal?: AbortSignal;
  home?: string;
  /** Told when the pull waits for another command writing the version's folder in AIM_HOME (the MCP server's exec). */
  onLockWait?: (line: string) => void;
}

export interface ExecResult {
  /** The OpenAI response object, as the engine returned it (checked). */
  response: ExecResponse;
  /** The deployment that answered, or null when the model was loaded for this call and released. */
  deployment: string | null;
}

const quantMatches = (deployment: LiveDeployment, quant: string | undefined): boolean =>
  quant === undefined || deployment.quant.toLowerCase() === quant.toLowerCase();

async function runningDeployments(session: Session, home: string): Promise<LiveDeployment[]> {
  const { deployments } = await listDeployments(async () => session, home);
  return deployments.filter((d) => d.status === 'running' && d.endpoint !== '');
}

export async function execModel(session: Session, text: string, request: ExecRequest, options: ExecOptions = {}): Promise<ExecResult> {
  const home = options.home ?? aimHome();
  const target = await resolveTarget(session, text);
  const quant = options.quant ?? target.entry?.quant;
  const answerFrom = async (deployment: LiveDeployment): Promise<ExecResult> =>
    ({ response: await sendExecRequest(deployment.endpoint, deployment.modelId, request, options.signal), deployment: deployment.name });
  if (!target.ref) {
    // A catalog name that maps to no repository can only be served by a deployment already running (Kamiwaza's).
    const running = (await runningDeployments(session, home)).find((d) => d.model === text && quantMatches(d, quant));
    if (running) return answerFrom(running);
    throw new UsageError(`${text} is not in any aim repository and no deployment of it is running`, {
      hint: `deploy it first with \`aim run ${text}\` (through Kamiwaza), or push the GGUF to a repository and map it under models: in model_repos.yaml`,
    });
  }
  const located = await locateServed(session, target.ref, home);
  const running = (await runningDeployments(session, home)).find((d) => isInside(located.dest, d.modelPath) && quantMatches(d, quant));
  if (running) return answerFrom(running);
  const copy = await prepareServing(session, target.ref, quant, { home, progress: options.progress, located, quantIsDefault: options.quant === undefined, onLockWait: options.onLockWait });
  // Sized as `aim run` would size it: the option, else the setting (flag > env > config > default).
  const settings = session.settings();
  const response = await answerWithTemporaryEngine(copy, target.ref.model, request, {
    model: text, ctxSize: options.ctxSize ?? settings.number('serve.ctx-size'), threads: options.threads ?? settings.number('serve.threads'),
    onEvent: options.onEvent, signal: options.signal, home,
  });
  return { response, deployment: null };
}
