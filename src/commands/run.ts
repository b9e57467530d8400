import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { runModel } from '../core/serve/serve.js';
import { stayAttached } from '../core/serve/foreground.js';
import type { EngineEvent } from '../core/serve/serve.js';
import { AimCommand } from './base.js';
import { describeFit } from './subset-options.js';
import { answerOnce } from './exec.js';
import { requireSignedOption } from './signing-options.js';
import { parseReference } from '../core/format/reference.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { runBundle } from '../core/bundle/run-bundle.js';
import { describeBundleRun } from './bundle-render.js';

export class RunCommand extends AimCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'pull a GGUF model version and serve it behind an OpenAI-compatible API',
    details: `
      MODEL is REPO/MODEL[:TAG|@blake3:HEX], a friendly name (built in: qwen2.5-0.5b/1.5b/7b-instruct,
      llama-3.2-1b/3b-instruct, phi-3.5-mini-instruct, gemma-2-2b-it, smollm2-1.7b-instruct; add your own under
      models: in model_repos.yaml), hf.co/ORG/REPO[:QUANT] for any GGUF repository on the Hugging Face hub, or the
      path of a local .gguf file (served where it is). A name no configured repository holds is downloaded from the
      hub (HF_ENDPOINT, HF_TOKEN) into AIM_HOME/hub-repo, resumably, and checked against the hub's sha256. An
      installed version (aim install) is used as it is; otherwise only the GGUF file(s) of the chosen quantization
      are pulled into AIM_HOME. The GGUF is checked, and an engine serves it: the embedded llama.cpp engine on 127.0.0.1, or Kamiwaza when
      KAMIWAZA_BASE_URL is set (or --engine kamiwaza).
    `,
    examples: [
      ['Serve a model from the Hugging Face hub, nothing configured', '$0 run qwen2.5-0.5b-instruct'],
      ['Serve a quantization of any GGUF repository on the hub', '$0 run hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m'],
      ['Serve a local file without copying it', '$0 run ./models/my-model-q8_0.gguf'],
      ['Serve every member of a bundle, each on its own port', '$0 run team/rag-kit:v1'],
      ['Serve a version with the embedded engine', '$0 run team/qwen2.5-7b:v1 --quant q4_k_m'],
      ['Serve the largest quantization that fits free memory', '$0 run team/qwen2.5-7b:v1 --quant auto'],
      ['Ask once and print the answer, as `ollama run` does', '$0 run team/qwen2.5-7b:v1 "Why is the sky blue?"'],
      ['Deploy the PRD model on Kamiwaza', 'KAMIWAZA_BASE_URL=https://localhost/api $0 run qwen2.5-7b-instruct'],
    ],
  });

  target = Option.String({ name: 'MODEL' });
  prompt = Option.String({ name: 'PROMPT', required: false });
  quant = Option.String('--quant', { description: 'quantization to serve, matched in GGUF file names, or `auto`: the largest that fits free memory (default: q6_k, or the only one there is)' });
  engine = Option.String('--engine', { description: 'embedded or kamiwaza (default: aim.serve.engine, else kamiwaza when a Kamiwaza URL is set)', validator: t.isEnum(['embedded', 'kamiwaza'] as const) });
  port = Option.String('--port', { description: 'port on 127.0.0.1 for the embedded engine (default: aim.serve.ports, else any free one)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(0, 65535)]) });
  ctxSize = Option.String('--ctx-size', { description: 'context size in tokens (default: aim.serve.ctx-size, else 2048)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(64)]) });
  threads = Option.String('--threads', { description: 'CPU threads for generation (default: aim.serve.threads, else all cores but one)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]) });
  name = Option.String('--name', { description: 'deployment name for ps and stop (default: the model name)' });
  include = Option.Array('--include', [], { description: 'choose the GGUF among files matching this glob (at any depth without a slash; repeatable)' });
  exclude = Option.Array('--exclude', [], { description: 'leave files matching this glob out of the choice (repeatable)' });
  parallel = Option.String('--parallel', { description: 'requests answered at once, each with its own context (default: aim.serve.parallel, else half the cores, 1 to 4)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 64)]) });
  gpu = Option.String('--gpu', { description: 'auto (default: aim.serve.gpu, else auto) uses a GPU when node-llama-cpp finds one; off stays on the CPU', validator: t.isEnum(['auto', 'off'] as const) });
  host = Option.String('--host', { description: 'embedded engine listens on 127.0.0.1 (default) or 0.0.0.0 (every interface, e.g. in a container)' });
  foreground = Option.Boolean('--foreground', false, { description: 'stay attached: stop the model on Ctrl-C or SIGTERM, exit non-zero if it ends (systemd, containers)' });
  requireSigned = requireSignedOption();
  kamiwazaUrl = Option.String('--kamiwaza-url', { description: 'Kamiwaza server (default: KAMIWAZA_BASE_URL, else aim.kamiwaza.url)' });

  protected override settingFlags(): Record<string, unknown> {
    return { 'serve.ports': this.port, 'serve.ctx-size': this.ctxSize, 'serve.threads': this.threads, 'serve.engine': this.engine, 'serve.host': this.host, 'serve.parallel': this.parallel, 'serve.gpu': this.gpu, 'kamiwaza.url': this.kamiwazaUrl };
  }

  async run(): Promise<void> {
    if (this.prompt !== undefined) return answerOnce(this, this.prompt);
    const progress = this.progress();
    const session = await this.session();
    const options = {
      quant: this.quant, name: this.name, select: { include: this.include, exclude: this.exclude }, requireSigned: this.requireSigned,
      progress, onEvent: (event: EngineEvent) => progress.note(describeEvent(event)),
    };
    const runOne = () => runModel(session, this.target, options);
    const ref = async () => parseReference(this.target);
    // REPO/NAME may name a bundle: each member is served as its own deployment.
    const result = await orBundle((r) => session.repository(r.repo), ref, runOne, async (found, repo) => {
      const results = await runBundle(session, repo, found, { ...options, ...(this.port === undefined ? {} : { port: Number(this.port) }) });
      this.report({ bundle: found.name, digest: found.digest, deployments: results.map((r) => ({ ...r.record, facts: r.facts })) }, () => describeBundleRun(results));
      return undefined;
    });
    if (!result) return;
    const { record, facts, fit } = result;
    this.report({ ...record, facts, ...(fit ? { fit } : {}) }, () => [
      ...(fit ? [`${this.quant ? 'quant auto' : 'the default quantization is not in this version; chose'}: ${describeFit(fit)}`] : []),
      '✨ Model deployed!',
      `   model     ${record.modelId} (${record.quant}${facts?.architecture ? `, ${facts.architecture}` : ''}, ${record.engine})`,
      `   endpoint  ${record.endpoint}   (OpenAI-compatible; use model "${record.modelId}")`,
      `   try       curl ${record.endpoint}/chat/completions -H 'content-type: application/json' -d '{"model":"${record.modelId}","messages":[{"role":"user","content":"hi"}]}'`,
      `   stop      aim stop ${record.name}`,
    ].join('\n'));
    if (this.foreground) await stayAttached(record, (await this.session()).config);
  }
}

function describeEvent(event: EngineEvent): string {
  const icon = event.phase === 'download' ? '🚀' : event.phase === 'ready' ? '✅' : '⏳';
  return `${icon} ${event.message}${event.percent !== undefined ? ` ${event.percent}%` : ''}`;
}
