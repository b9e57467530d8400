// `aim mcp`: a Model Context Protocol server over stdio, for agents (Claude Desktop, Cursor) to list, inspect, pull,
// run and ask models through the same core functions as the CLI. stdout carries JSON-RPC and nothing else: core
// reports through return values and progress events, and anything worth logging goes to stderr.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, type CallToolResult, type JSONRPCMessage, type JSONRPCRequest, type JSONRPCResponse } from '@modelcontextprotocol/sdk/types.js';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { NotFoundError, UsageError } from '../lib/errors.js';
import { escapeRawInJson, terminalLine } from '../lib/terminal-text.js';
import { toolError } from './results.js';
import { aimVersion } from '../core/version.js';
import { registerModelTools, type ToolContext } from './tools-models.js';
import { registerServingTools } from './tools-serving.js';

export type { ToolContext } from './tools-models.js';

export function createAimMcpServer(context: ToolContext): McpServer {
  const server = new McpServer({ name: 'aim', version: aimVersion() }, {
    instructions: 'aim keeps AI model versions in local folders or S3 and serves GGUF models. List with list_repositories, '
      + 'list_models and list_versions, find with search, look at one with inspect, download with pull, serve with run (then ps, stop), '
      + 'and ask a model one question with exec.',
  });
  answerSdkErrorsAsAim(server);
  registerModelTools(server, context);
  registerServingTools(server, context);
  return server;
}

/**
 * The SDK answers a call it refuses before any tool runs (an unknown tool, arguments that do not fit the tool's
 * schema) with its own bare text. Agents get those in aim's shape too, `aim: error:` text and `{error: {code,
 * message, hint}}`, as for every other failure: an unknown tool is not found (3), bad arguments are usage (2).
 * Must run before the first tool is registered, which is when the SDK installs its tools/call handler.
 */
function answerSdkErrorsAsAim(server: McpServer): void {
  type Handler = (request: { params: { name?: unknown } }, extra: unknown) => unknown;
  const protocol = server.server;
  const setRequestHandler = protocol.setRequestHandler.bind(protocol) as (schema: unknown, handler: Handler) => void;
  protocol.setRequestHandler = ((schema: unknown, handler: Handler) => {
    if (schema !== CallToolRequestSchema) return setRequestHandler(schema, handler);
    return setRequestHandler(schema, async (request, extra) => aimShaped((await handler(request, extra)) as CallToolResult, String(request.params.name)));
  }) as unknown as typeof protocol.setRequestHandler;
}

function aimShaped(result: CallToolResult, tool: string): CallToolResult {
  if (!result.isError || result.structuredContent !== undefined) return result;
  const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join(' ').replace(/^MCP error -?\d+: /, '');
  // aim disables no tool: "disabled" is what the SDK says of a name it finds on Object's prototype (`constructor`).
  if (/^Tool \S+ (not found|disabled)/.test(text)) return toolError(new NotFoundError(`Tool ${tool} not found`, { hint: 'tools/list names every tool' }));
  // A result that does not fit the tool's own output schema is aim's bug, reported as one (70).
  if (/^Output validation error/.test(text)) return toolError(new Error(text));
  return toolError(new UsageError(text, { hint: `tools/list gives the input schema of ${tool}` }));
}

/**
 * The SDK's stdio transport, writing each JSON-RPC line as --json writes its document: JSON.stringify leaves DEL, C1
 * controls and bidirectional overrides raw, which a person trying the server by hand in a terminal would see obeyed.
 */
class EscapingStdioTransport extends StdioServerTransport {
  constructor(stdin: NodeJS.ReadStream, private readonly out: NodeJS.WriteStream) {
    super(stdin, out);
  }

  override send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.out.write(escapeRawInJson(serializeMessage(message)))) resolve();
      else this.out.once('drain', resolve);
    });
  }
}

/**
 * Serves until the client closes stdin (or the process is interrupted: the CLI's signal handlers end it, stopping
 * any model an exec had loaded). Calls still running when stdin closes finish and are answered first, so
 * `echo REQUEST | aim mcp` prints its answer.
 */
export async function serveOverStdio(context: ToolContext, stdin: NodeJS.ReadableStream, stdout: NodeJS.WritableStream): Promise<void> {
  const server = createAimMcpServer(context);
  const transport = new EscapingStdioTransport(stdin as NodeJS.ReadStream, stdout as NodeJS.WriteStream);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  // A line that is not JSON-RPC, say: the client is told by the protocol where it can be; the operator, on stderr.
  server.server.onerror = (error) => process.stderr.write(`aim mcp: ${terminalLine(error.message)}\n`);
  await server.connect(transport);
  await closeOnceAnswered(transport, stdin, () => void server.close());
  await closed;
}

const isRequest = (message: JSONRPCMessage): message is JSONRPCRequest => 'method' in message && 'id' in message;
/** A result or an error answering a request. */
const isResponse = (message: JSONRPCMessage): message is JSONRPCResponse => !('method' in message) && 'id' in message;
/** The id of the request a notifications/cancelled names, if that is what `message` is. */
const cancelledRequest = (message: JSONRPCMessage): unknown =>
  'method' in message && message.method === 'notifications/cancelled' ? (message.params as { requestId?: unknown } | undefined)?.requestId : undefined;

/** Calls `close` once stdin has ended and every request read before that has been answered or cancelled. */
async function closeOnceAnswered(transport: Transport, stdin: NodeJS.ReadableStream, close: () => void): Promise<void> {
  const unanswered = new Set<string | number>();
  let ended = false;
  const closeIfDone = () => {
    if (ended && unanswered.size === 0) close();
  };
  const receive = transport.onmessage!;
  transport.onmessage = (message, extra) => {
    if (isRequest(message)) unanswered.add(message.id);
    receive(message, extra);
    // The SDK sends no answer to a call the client cancelled, as the protocol asks: waiting for one would keep the
    // server from ever ending (and, once nothing else is pending, end it as an internal error).
    const cancelled = cancelledRequest(message);
    if ((typeof cancelled === 'string' || typeof cancelled === 'number') && unanswered.delete(cancelled)) closeIfDone();
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    await send(message, options);
    if (isResponse(message) && message.id !== undefined) {
      unanswered.delete(message.id);
      closeIfDone();
    }
  };
  stdin.once('end', () => {
    ended = true;
    closeIfDone();
  });
}
