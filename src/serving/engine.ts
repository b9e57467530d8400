// What every serving engine offers `run`, `ps` and `stop`. The record an engine returns from start() is what aim
// keeps in $AIM_HOME/deployments/<name>.json (core/deployments.ts stores it; engines never touch that folder), and
// it must hold everything the same engine needs later to report on or stop the deployment from another process.
import type { ProcessIdentity } from './process-identity.js';

export type EngineKind = 'embedded' | 'kamiwaza';

export interface DeploymentSpec {
  /** Deployment name, unique among running deployments; `aim stop NAME` uses it. */
  name: string;
  /** What the user asked for (a reference or a friendly name), shown by `ps`. */
  model: string;
  /** Absolute path of the GGUF (the first shard when split). */
  modelPath: string;
  /** Every file of the model, shards in order; defaults to [modelPath]. Remote engines register them all. */
  files?: string[];
  /** Model id served on /v1/models and expected in requests, e.g. "team/tiny:v1". */
  modelId: string;
  quant: string;
  /** 0 or undefined: any free port. */
  port?: number;
  /** Where the embedded engine listens: 127.0.0.1 (the default) or 0.0.0.0 (every interface, e.g. in a container). */
  host?: '127.0.0.1' | '0.0.0.0';
  ctxSize?: number;
  threads?: number;
  /** Requests the embedded engine answers at once, each with its own context of ctxSize tokens (default 1). */
  parallel?: number;
  /** Embedded engine: auto takes a GPU node-llama-cpp finds, off stays on the CPU (default auto). */
  gpu?: 'auto' | 'off';
  /** Where an engine may keep logs and run files for this deployment (inside AIM_HOME). */
  runDir: string;
}

/**
 * starting: recorded before anything was started, and updated as the engine learns ids (a pid, a remote deployment
 * id), so an interrupted `aim run` leaves nothing `ps` and `stop` cannot see; ready: the endpoint answered.
 */
export type DeploymentState = 'starting' | 'ready';

export interface DeploymentRecord {
  name: string;
  state: DeploymentState;
  engine: EngineKind;
  model: string;
  modelId: string;
  quant: string;
  modelPath: string;
  /** OpenAI-compatible base URL, ending in /v1; empty while starting. */
  endpoint: string;
  startedAt: string;
  /** The `aim run` that is starting it (only while starting): a rerun leaves it alone while that one still runs. */
  runner?: ProcessIdentity;
  /** Embedded engine: the server process, as /proc showed it right after the spawn, and its port and log. */
  pid?: number;
  pidStartTime?: string;
  cmdline?: string[];
  port?: number;
  logFile?: string;
  /** Embedded engine: the GPU backend llama.cpp uses (cuda, vulkan, metal) or false on the CPU, and layers offloaded. */
  gpu?: { backend: string | false; layers: number };
  /**
   * Kamiwaza engine: ids on the Kamiwaza side (the deployment's once Kamiwaza has answered the deploy request), and
   * the tag aim put in the deployment's runtime_env, which finds it when the answer never arrived.
   */
  kamiwaza?: { baseUrl: string; deploymentId?: string; modelId?: string; requestTag?: string };
}

export type StopOutcome = 'stopped' | 'gone';

/** Persists what an engine has started so far; `start` awaits it before waiting for the deployment to come up. */
export type Checkpoint = (record: DeploymentRecord) => Promise<void>;

/**
 * running: answering requests; starting: loading or deploying; stopped: gone; failed: crashed or refused;
 * unknown: the engine could not be asked (Kamiwaza unreachable).
 */
export type LiveStatus = 'running' | 'starting' | 'stopped' | 'failed' | 'unknown';

export interface LiveDeployment extends DeploymentRecord {
  status: LiveStatus;
  /** Why it failed, when the engine can tell. */
  detail?: string;
}

/** Progress of a start, for bars and plain lines; `percent` only when the engine knows it. */
export interface EngineEvent {
  phase: 'download' | 'register' | 'deploy' | 'load' | 'ready';
  message: string;
  percent?: number;
}

export interface Engine {
  readonly kind: EngineKind;
  /**
   * Starts serving and resolves once the endpoint answers; rejects with an EngineError that says why not. Calls
   * `checkpoint` with a record in state starting as soon as something exists that `stop` would have to find.
   */
  start(spec: DeploymentSpec, onEvent?: (event: EngineEvent) => void, checkpoint?: Checkpoint): Promise<DeploymentRecord>;
  /** Live status of deployments this engine started. */
  list(records: DeploymentRecord[]): Promise<LiveDeployment[]>;
  /**
   * Stops a deployment and resolves once it is gone: 'stopped' when this call stopped it, 'gone' when there was
   * nothing of it left to stop (already ended, or its pid now held by another process, which is left alone).
   */
  stop(record: DeploymentRecord): Promise<StopOutcome>;
}
