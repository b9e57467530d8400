import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { NotFoundError, UsageError } from '../lib/errors.js';
import { execModel } from '../core/serve/exec.js';
import { MAX_EXEC_INPUT_BYTES, parseExecInput, promptRequest, type ExecRequest } from '../core/serve/exec-input.js';
import { answerText } from '../core/serve/exec-http.js';
import type { EngineEvent } from '../core/serve/serve.js';
import { AimCommand } from './base.js';
import { jsonText } from '../lib/terminal-text.js';
import { isPath } from './path-argument.js';

export class ExecCommand extends AimCommand {
  static override paths = [['exec']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'answer one OpenAI-style request with a model and print the response object as JSON',
    details: `
      The request is a chat completion (\`messages\`) or a completion (\`prompt\`), as OpenAI's API takes it; the
      answer is OpenAI's response object, one JSON document on stdout. When a deployment of that version is running
      (\`aim ps\`), it answers and keeps running. Otherwise the version is pulled into AIM_HOME if needed, loaded by
      the embedded engine for this one request and released afterwards, also on Ctrl-C.
    `,
    examples: [
      ['Ask a chat model', `$0 exec team/qwen2.5-7b:v1 --input '{"messages":[{"role":"user","content":"Name three primes"}],"max_tokens":64}'`],
      ['Complete a prompt from a file', '$0 exec team/tiny:v1 --input-file request.json'],
      ['Read the request from stdin', `echo '{"prompt":"Once upon a time"}' | $0 exec team/tiny:v1 --input-file -`],
    ],
  });

  target = Option.String({ name: 'MODEL[:TAG]' });
  input = Option.String('-i,--input', { description: 'the request as JSON text' });
  inputFile = Option.String('-f,--input-file', { validator: isPath, description: 'read the request from this JSON file (- for stdin)' });
  quant = Option.String('--quant', { description: 'quantization to use, matched in GGUF file names (default: q6_k, or the only one there is)' });
  ctxSize = Option.String('--ctx-size', { description: 'context size in tokens when the model is loaded for the call (default: aim.serve.ctx-size, else 2048)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(64)]) });
  threads = Option.String('--threads', { description: 'CPU threads when the model is loaded for the call (default: aim.serve.threads, else all cores but one)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]) });

  protected override settingFlags(): Record<string, unknown> {
    return { 'serve.ctx-size': this.ctxSize, 'serve.threads': this.threads };
  }

  async run(): Promise<void> {
    const request = await this.request();
    const progress = this.progress();
    const result = await execModel(await this.session(), this.target, request, {
      quant: this.quant, progress, onEvent: (event: EngineEvent) => progress.note(event.message),
    });
    progress.note(result.deployment ? `answered by deployment ${result.deployment}` : 'loaded for this request and released');
    // The response object is the output whether or not --json was given: exec exists for scripts.
    this.context.stdout.write(`${jsonText(result.response)}\n`);
  }

  private async request(): Promise<ExecRequest> {
    if ((this.input === undefined) === (this.inputFile === undefined)) {
      throw new UsageError(this.input === undefined ? 'give the request with --input JSON or --input-file FILE' : 'give --input or --input-file, not both', {
        hint: `e.g. aim exec ${this.target} --input '{"messages":[{"role":"user","content":"hi"}]}'`,
      });
    }
    if (this.input !== undefined) return parseExecInput(this.input, '--input');
    const file = this.inputFile!;
    if (file === '-') return parseExecInput(await readBounded(this.context.stdin), 'the request on stdin');
    return parseExecInput(await readInputFile(file), `--input-file ${file}`);
  }
}

/**
 * The file the user named, read as `cat` would: through a link, or from a pipe (`--input-file <(jq ...)`), the
 * user's own choice as much as the flag; a folder or a missing file is one plain error.
 */
async function readInputFile(file: string): Promise<string> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new NotFoundError(`--input-file ${file} does not exist`, { hint: 'give the path of a JSON file, or - for stdin' });
    throw error;
  });
  if (info.isDirectory()) throw new UsageError(`--input-file ${file} is a folder`, { hint: 'give the path of a JSON file, or - for stdin' });
  return readBounded(createReadStream(file));
}

/** A stream up to one byte past the limit, so an oversized request is refused by parseExecInput with its size. */
async function readBounded(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(bytes);
    size += bytes.length;
    if (size > MAX_EXEC_INPUT_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What `aim run` passes on when given a PROMPT: the options that shape a deployment do not apply to one answer. */
interface PromptingRun extends AimCommand {
  target: string;
  quant?: string;
  port?: number;
  name?: string;
  host?: string;
  foreground: boolean;
}

/** `aim run NAME "prompt"`: the prompt as one user message, the answer's text on stdout (--json: the response object). */
export async function answerOnce(command: PromptingRun, prompt: string): Promise<void> {
  const unused = [command.port !== undefined && '--port', command.name !== undefined && '--name', command.host !== undefined && '--host',
    command.foreground && '--foreground'].filter(Boolean);
  if (unused.length > 0) {
    throw new UsageError(`${unused.join(' and ')} ${unused.length > 1 ? 'do' : 'does'} not apply when aim run is given a prompt`, {
      hint: `the prompt is answered by a running deployment of ${command.target}, or by the model loaded for it alone; leave the prompt out to start a deployment`,
    });
  }
  const progress = command.progress();
  // --ctx-size and --threads reach the settings through run's flags.
  const { response } = await execModel(await command.session(), command.target, promptRequest(prompt), {
    quant: command.quant, progress, onEvent: (event: EngineEvent) => progress.note(event.message),
  });
  command.report(response, () => answerText(response));
}
