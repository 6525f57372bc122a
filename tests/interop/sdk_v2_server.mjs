#!/usr/bin/env node
// Interop peer for the 2026-07-28 era: an MCP server built on the official TypeScript SDK v2
// (@modelcontextprotocol/server 2.4.0 through @modelcontextprotocol/node on node:http). By
// default it serves both eras on one endpoint (createMcpHandler: modern requests per request,
// 2025-era traffic through the SDK's stateless fallback); --modern-only refuses 2025-era
// traffic, as a server that implements only the newest revision does.
//
//   node sdk_v2_server.mjs [--port N] [--modern-only] [--log-requests]
//
// Binds 127.0.0.1 (port 0 = any free port), prints exactly `LISTENING <port>` on stdout once
// it accepts connections, serves POST /mcp. --log-requests prints one stdout line per HTTP
// request: `HTTP <METHOD> mcp-method=<Mcp-Method or -> mcp-name=<Mcp-Name or -> version=<MCP-
// Protocol-Version or ->`. Exits on SIGTERM or SIGINT.
//
// Tools: echo {text} -> text; deploy {env}: a multi-round-trip tool that first answers
// input_required with an elicitation `confirm` (and requestState "deploy:<env>"), then, when
// retried with inputResponses.confirm accepted with {confirm: true}, "deployed to <env>".

import http from 'node:http';
import { parseArgs } from 'node:util';

import { toNodeHandler } from '@modelcontextprotocol/node';
import { acceptedContent, createMcpHandler, inputRequired, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'modern-only': { type: 'boolean', default: false },
    'log-requests': { type: 'boolean', default: false },
  },
});
const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${args.port}`);
  process.exit(2);
}

function newServer() {
  const server = new McpServer({ name: 'shadowcat-v2-peer', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  const confirmation = z.object({ confirm: z.boolean() });
  server.registerTool(
    'deploy',
    { description: 'Asks for confirmation, then deploys', inputSchema: z.object({ env: z.string() }) },
    async ({ env }, ctx) => {
      const confirmed = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', confirmation);
      if (confirmed?.confirm !== true) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({ message: `Deploy to ${env}?`, requestedSchema: confirmation }),
          },
          requestState: `deploy:${env}`,
        });
      }
      return { content: [{ type: 'text', text: `deployed to ${env}` }] };
    },
  );
  return server;
}

const handler = toNodeHandler(
  createMcpHandler(newServer, args['modern-only'] ? { legacy: 'reject' } : {}),
);
const httpServer = http.createServer((req, res) => {
  if (args['log-requests']) {
    const h = (name) => req.headers[name] ?? '-';
    console.log(`HTTP ${req.method} mcp-method=${h('mcp-method')} mcp-name=${h('mcp-name')} ` +
                `version=${h('mcp-protocol-version')}`);
  }
  if (new URL(req.url, 'http://localhost').pathname !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  handler(req, res);
});
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => httpServer.close(() => process.exit(0)));
}
