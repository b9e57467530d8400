// How a tool's outcome travels back: structured content plus the same JSON as text (the MCP spec asks for both, for
// clients that read only text), a failure as a tool error carrying the CLI's plain message and hint, and core's
// progress events as notifications/progress when the client asked for them with a progress token. Every text is
// escaped as the CLI escapes what it prints: a client may show it in a terminal, and much of it quotes what an agent
// sent or a repository holds. The structured content stays verbatim, as --json does.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { isAimError } from '../lib/errors.js';
import { fsError } from '../lib/fs-errors.js';
import { hintText, jsonText, terminalLine, terminalText } from '../lib/terminal-text.js';
import { silentProgress, type ProgressSink } from '../core/progress.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export function toolResult(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: jsonText(data) }], structuredContent: data };
}

/**
 * A failure as the CLI words it (`aim: error: ...` and a hint), with the exit code the CLI would use, so an agent can
 * tell "not found" from "damaged" as a script does. The server keeps serving.
 */
export function toolError(thrown: unknown): CallToolResult {
  const errno = thrown as NodeJS.ErrnoException | undefined;
  const error = errno?.code ? fsError(thrown, { path: errno.path ?? 'a file aim was using' }) : thrown;
  const known = isAimError(error);
  const message = error instanceof Error ? error.message : String(error);
  const hint = known ? error.hint : 'this is a bug in aim; the server log on stderr has the details';
  const code = known ? error.exitCode : 70;
  if (!known) process.stderr.write(`aim mcp: internal error: ${terminalText((error instanceof Error ? error.stack : undefined) ?? message)}\n`);
  const text = `aim: ${known ? 'error' : 'internal error'}: ${terminalLine(message)}${hint ? `\n  hint: ${hintText(hint)}` : ''}`;
  return { content: [{ type: 'text', text }], structuredContent: { error: { code, message, hint: hint ?? null } }, isError: true };
}

/**
 * Runs a tool's work and turns whatever it throws into a tool error. With `progress`, the answer waits until every
 * notification has gone out: a client forgets the progress token once it has the answer, and reports any
 * notification arriving later as an error.
 */
export async function answer(work: () => Promise<Record<string, unknown>>, progress?: ProgressNotifications): Promise<CallToolResult> {
  const result = await work().then(toolResult, toolError);
  await progress?.sent();
  return result;
}

export interface ProgressNotifications extends ProgressSink {
  /** Resolves once every notification so far has been written. */
  sent(): Promise<void>;
}

/**
 * Core's progress events as notifications/progress: one when a transfer begins and ends, one per percent between
 * (a count of bytes, not of time, so a fast pull sends few and a slow one no flood), and each note as a message.
 * Without a progress token the client asked for none, and nothing is sent.
 */
export function progressNotifications(extra: ToolExtra): ProgressNotifications {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return { ...silentProgress, sent: async () => undefined };
  let total = 0;
  let done = 0;
  let sentDone = -1;
  // One after another, in order: the protocol asks that progress only grows.
  let queue: Promise<unknown> = Promise.resolve();
  const send = (message?: string): void => {
    sentDone = done;
    const params = { progressToken, progress: done, ...(total > 0 ? { total } : {}), ...(message ? { message: terminalLine(message) } : {}) };
    // A client that left cannot be told; the work goes on and its result is dropped with the connection.
    queue = queue.then(() => extra.sendNotification({ method: 'notifications/progress', params })).catch(() => undefined);
  };
  return {
    sent: () => queue.then(() => undefined),
    begin(label, totalBytes) {
      total += totalBytes;
      let taskDone = 0;
      const step = Math.max(1, Math.floor(totalBytes / 100));
      // Progress only grows, as the protocol asks: a resumed task's absolute update never takes it back.
      const moveTo = (value: number) => {
        if (value <= taskDone) return;
        done += value - taskDone;
        taskDone = value;
        if (done - sentDone >= step) send();
      };
      send(label);
      return {
        advance: (bytes) => moveTo(taskDone + bytes),
        update: (value) => moveTo(value),
        end: () => {
          moveTo(totalBytes);
          send(`${label}: done`);
        },
      };
    },
    note: (message) => send(message),
  };
}

