#!/usr/bin/env node
// Interop peer: a stateful Streamable HTTP MCP server built on the official TypeScript SDK,
// so Shadowcat's client is checked against the reference server and not only our own fakes.
//
//   node sdk_server.mjs [--port N] [--json]
//
// Binds 127.0.0.1 (port 0 = any free port) and prints exactly `LISTENING <port>` on stdout
// once it accepts connections; tests wait for that line. --json makes request answers
// application/json; without it they are SSE streams. Exits on SIGTERM or SIGINT.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${args.port}`);
  process.exit(2);
}

// Keeps a hostile or buggy client from making us buffer without bound.
const MAX_BODY_BYTES = 4 << 20;

// An McpServer serves one transport, so every session gets its own.
function buildMcpServer() {
  const server = new McpServer({ name: 'shadowcat-interop-sdk', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      description: 'Returns the given text.',
      inputSchema: { text: z.string() },
    },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool(
    'add',
    {
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
    },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  return server;
}

// Mcp-Session-Id -> transport, filled when the SDK has assigned the id during initialize.
const transports = new Map();

function sendJsonRpcError(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function startSession(req, res, body) {
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: args.json,
    onsessioninitialized: (sessionId) => {
      transports.set(sessionId, transport);
    },
  });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) transports.delete(transport.sessionId);
  };
  await buildMcpServer().connect(transport);
  await transport.handleRequest(req, res, body);
}

async function handle(req, res) {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path !== '/mcp') {
    res.writeHead(404).end();
    return;
  }

  let body;
  if (req.method === 'POST') {
    let text;
    try {
      text = await readBody(req);
    } catch {
      sendJsonRpcError(res, 413, -32600, 'request body too large');
      return;
    }
    try {
      body = JSON.parse(text);
    } catch {
      sendJsonRpcError(res, 400, -32700, 'Parse error');
      return;
    }
  }

  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId === 'string') {
    const transport = transports.get(sessionId);
    if (transport === undefined) {
      sendJsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    // GET (standalone stream), DELETE (end of session) and later POSTs all belong to the
    // session's transport, which also enforces the protocol-version header.
    await transport.handleRequest(req, res, body);
    return;
  }

  if (req.method === 'POST' && isInitializeRequest(body)) {
    await startSession(req, res, body);
    return;
  }
  sendJsonRpcError(res, 400, -32000, 'Bad Request: no valid Mcp-Session-Id header');
}

const httpServer = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(`sdk_server: ${req.method} ${req.url} failed: ${err?.stack ?? err}`);
    if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal error');
    else res.destroy();
  });
});

async function shutdown() {
  for (const transport of transports.values()) {
    await transport.close().catch(() => {});
  }
  httpServer.close();
  // Open SSE streams would keep close() waiting; the process is done either way.
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
