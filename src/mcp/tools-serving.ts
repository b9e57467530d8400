// The MCP tools over serving: run a version behind an OpenAI-compatible endpoint, list and stop deployments, and
// exec one request. Each calls the same core function as its CLI command; engine events and the pull of a version
// not yet in AIM_HOME reach the client as progress notifications.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod';
import { UsageError } from '../lib/errors.js';
import { listDeployments, stopDeployments } from '../core/serve/deployment-status.js';
import { execModel } from '../core/serve/exec.js';
import { checkExecInput } from '../core/serve/exec-input.js';
import { runModel } from '../core/serve/serve.js';
import { answer, progressNotifications } from './results.js';
import { requireSigned, type ToolContext } from './tools-models.js';

const model = z.string().max(512).describe('REPO/MODEL[:TAG] or a friendly name from the catalog, e.g. team/qwen2.5-7b:v1');
const quant = z.string().max(64).optional().describe('quantization, matched in GGUF file names (default: q6_k, or the only one there is)');
const ctxSize = z.number().int().min(64).max(1 << 20).optional().describe('context size in tokens (default 2048)');
const threads = z.number().int().min(1).max(1024).optional().describe('CPU threads for generation (default: all cores but one)');
const messages = (problems: Array<{ message: string }>) => problems.map((p) => p.message);

export function registerServingTools(server: McpServer, context: ToolContext): void {
  const sessionIfNeeded = () => context.session().catch(() => undefined);

  server.registerTool('run', {
    title: 'Run a model', description: 'Pull a GGUF version into AIM_HOME if needed and serve it behind an OpenAI-compatible HTTP endpoint (embedded llama.cpp, or Kamiwaza when configured). Returns the deployment record with its endpoint.',
    inputSchema: {
      model, quant, ctx_size: ctxSize, threads,
      name: z.string().max(128).optional().describe('deployment name for ps and stop (default: the model name)'),
      engine: z.enum(['embedded', 'kamiwaza']).optional(),
      port: z.number().int().min(0).max(65535).optional().describe('port on 127.0.0.1 for the embedded engine (default: any free one)'),
      require_signed: requireSigned,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, (args, extra) => {
    const progress = progressNotifications(extra);
    return answer(async () => {
      const { record, facts } = await runModel(await context.session(), args.model, {
        quant: args.quant, ctxSize: args.ctx_size, threads: args.threads, name: args.name, engine: args.engine, port: args.port, requireSigned: args.require_signed,
        progress, onEvent: (event) => progress.note(event.message), onLockWait: (line) => progress.note(line),
      });
      return { ...record, facts: facts ?? null };
    }, progress);
  });

  server.registerTool('ps', {
    title: 'List running models', description: 'Deployments started by aim, with their live status and endpoint.', annotations: { readOnlyHint: true, openWorldHint: false },
  }, () => answer(async () => {
    const { deployments, problems } = await listDeployments(sessionIfNeeded);
    return { deployments, problems: messages(problems) };
  }));

  server.registerTool('stop', {
    title: 'Stop models', description: 'Stop the named deployments (or every one with all: true) and wait until each is gone.',
    inputSchema: { names: z.array(z.string().max(128)).max(256).optional(), all: z.boolean().optional() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, ({ names = [], all = false }) => answer(async () => {
    if (all === names.length > 0) throw new UsageError(all ? 'give names or all, not both' : 'name a deployment to stop, or pass all: true', { hint: 'see running deployments with the ps tool' });
    const { stopped, gone, problems } = await stopDeployments(sessionIfNeeded, all ? [] : names);
    // Like `aim stop`: the others are stopped, and a name that could not be is the error.
    if (problems[0] && stopped.length + gone.length === 0) throw problems[0];
    return { stopped, gone, problems: messages(problems) };
  }));

  server.registerTool('exec', {
    title: 'Ask a model', description: 'Answer one OpenAI-style request (input: {"messages": [...]} for a chat, or {"prompt": "..."} for a completion) and return OpenAI\'s response object. A running deployment of that version answers; otherwise the model is loaded for the call and released after.',
    inputSchema: { model, input: z.record(z.string(), z.unknown()).describe('the OpenAI request body: messages or prompt, and max_tokens, temperature, stop, seed...'), quant, ctx_size: ctxSize, threads },
    // It may pull the version into AIM_HOME and start an engine for the call: not read-only, though nothing is lost.
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, (args, extra) => {
    const progress = progressNotifications(extra);
    return answer(async () => {
      const request = checkExecInput(args.input, 'input');
      const result = await execModel(await context.session(), args.model, request, {
        quant: args.quant, ctxSize: args.ctx_size, threads: args.threads, progress, onEvent: (event) => progress.note(event.message), onLockWait: (line) => progress.note(line), signal: extra.signal,
      });
      return { ...result };
    }, progress);
  });
}
