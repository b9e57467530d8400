import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { Session } from '../core/session.js';
import { serveOverStdio } from '../mcp/server.js';
import { AimCommand } from './base.js';
import { isPath } from './path-argument.js';

export class McpCommand extends AimCommand {
  static override paths = [['mcp']];
  static override usage = Command.Usage({
    category: 'Agents',
    description: 'serve aim to AI agents over the Model Context Protocol (stdio)',
    details: `
      Speaks JSON-RPC on stdin and stdout, as Claude Desktop, Cursor and other MCP clients start it. Tools:
      list_repositories, list_models, list_versions, search, inspect, pull, run, ps, stop and exec, each with an input schema
      and a structured result; a failure is a tool error with the CLI's message and hint. Pulls write only inside
      --root. Ends when the client closes stdin.
    `,
    examples: [
      ['Start the server (an MCP client does this)', '$0 mcp'],
      ['Let pulls write under ~/models only', '$0 mcp --root ~/models'],
      ['Try it by hand', `echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' | $0 mcp`],
    ],
  });

  root = Option.String('--root', { validator: isPath, description: 'the folder pulls may write into (default: the current folder)' });

  async run(): Promise<void> {
    const root = resolve(this.root ?? process.cwd());
    // A fresh session per call: the configuration may change while the server runs, and a broken one fails that call.
    const session = () => Session.open({ explicitPath: this.configPath });
    await serveOverStdio({ session, root }, this.context.stdin, this.context.stdout);
  }
}
