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
// retried with inputResponses.confirm accepted with {confirm: true}, "deployed to <env>";
// slow {steps, delayMs}: sends notifications/progress 1..steps (to the request's
// progressToken), one every delayMs, then answers "done after <steps> steps"; when the
// request is aborted first (the client closed its response stream: the 2026-07-28
// cancellation) it prints `ABORTED slow` on stdout; touch_tools: publishes
// notifications/tools/list_changed to every open subscriptions/listen stream that asked
// for it, then answers "touched".

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
  server.registerTool(
    'slow',
    {
      description: 'Reports progress step by step, then answers',
      inputSchema: z.object({ steps: z.number().int(), delayMs: z.number().int() }),
    },
    async ({ steps, delayMs }, ctx) => {
      const token = ctx.mcpReq._meta?.progressToken;
      const { signal } = ctx.mcpReq;
      for (let step = 1; step <= steps; step++) {
        if (token !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken: token, progress: step, total: steps },
          });
        }
        const aborted = await new Promise((resolve) => {
          if (signal.aborted) return resolve(true);
          const timer = setTimeout(() => resolve(false), delayMs);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve(true);
          }, { once: true });
        });
        if (aborted) {
          console.log('ABORTED slow');
          return { content: [{ type: 'text', text: 'aborted' }] };
        }
      }
      return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
    },
  );
  server.registerTool(
    'touch_tools',
    { description: 'Announces that the tool list changed', inputSchema: z.object({}) },
    async () => {
      mcpHandler.notify.toolsChanged();
      return { content: [{ type: 'text', text: 'touched' }] };
    },
  );
  return server;
}

const mcpHandler = createMcpHandler(newServer, args['modern-only'] ? { legacy: 'reject' } : {});
const handler = toNodeHandler(mcpHandler);
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
