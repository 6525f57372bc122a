#!/usr/bin/env node
// Interop peer: a stateful Streamable HTTP MCP server built on the official TypeScript SDK,
// so Shadowcat's client is checked against the reference server and not only our own fakes.
//
//   node sdk_server.mjs [--port N] [--json] [--event-store] [--retry-ms N] [--log-requests]
//
// Binds 127.0.0.1 (port 0 = any free port) and prints exactly `LISTENING <port>` on stdout
// once it accepts connections; tests wait for that line. --json makes request answers
// application/json; without it they are SSE streams. Exits on SIGTERM or SIGINT.
//
// --event-store gives every session's transport an event store, which makes its SSE streams
// resumable (SEP-1699): each stream starts with a priming event (an id and empty data; with
// --retry-ms also `retry: N`), every event carries an id, and a GET with Last-Event-ID
// replays what the stream sent after that id. --log-requests prints one stdout line per HTTP
// request, `HTTP <METHOD> <JSON-RPC method or -> last-event-id=<id or ->`, for tests that
// check how a client resumed.
//
// Tools: echo {text}, add {a, b}; and, for streams:
//   progress {steps, delayMs}         `steps` notifications/progress (to the request's
//                                     _meta.progressToken), then "done <steps>"
//   drop_mid_call {steps, dropAfter, delayMs}
//                                     like progress, but after `dropAfter` notifications closes
//                                     the request's SSE stream (the SDK's closeSSEStream; needs
//                                     --event-store) and goes on with the rest and the result,
//                                     which the event store keeps for a resuming GET
//   elicit {message, schema?}         elicitation/create (form) on the request's stream; returns
//                                     the client's answer as JSON text
//   sample {prompt, maxTokens?}       sampling/createMessage likewise
//   notify_get {text, count?, waitMs?}
//                                     `count` notifications/message (logging) with no related
//                                     request, so they go on the standalone GET stream; first
//                                     waits up to waitMs (default 5000) for that stream to be
//                                     open, and fails if it is not

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
    'event-store': { type: 'boolean', default: false },
    'retry-ms': { type: 'string' },
    'log-requests': { type: 'boolean', default: false },
  },
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${args.port}`);
  process.exit(2);
}

let retryMs;
if (args['retry-ms'] !== undefined) {
  retryMs = Number.parseInt(args['retry-ms'], 10);
  if (!Number.isInteger(retryMs) || retryMs < 0) {
    console.error(`invalid --retry-ms: ${args['retry-ms']}`);
    process.exit(2);
  }
}

// The SDK's example store orders a replay by sorting event ids, which it makes from the
// clock in milliseconds plus a random suffix: two events of one millisecond could replay
// swapped. A zero-padded counter keeps the store's own sort in sending order.
let eventCounter = 0;
class OrderedEventStore extends InMemoryEventStore {
  generateEventId(streamId) {
    eventCounter += 1;
    return `${streamId}_${String(eventCounter).padStart(12, '0')}`;
  }
}

// Keeps a hostile or buggy client from making us buffer without bound.
const MAX_BODY_BYTES = 4 << 20;

// An McpServer serves one transport, so every session gets its own.
function buildMcpServer() {
  const server = new McpServer(
    { name: 'shadowcat-interop-sdk', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
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
  server.registerTool(
    'progress',
    {
      description: 'Sends `steps` progress notifications, then returns "done <steps>".',
      inputSchema: { steps: z.number().int().min(0).max(1000), delayMs: z.number().int().min(0).max(10000).optional() },
    },
    async ({ steps, delayMs }, extra) => {
      for (let i = 1; i <= steps; i++) {
        await sendProgress(extra, i, steps, delayMs);
      }
      return { content: [{ type: 'text', text: `done ${steps}` }] };
    },
  );
  server.registerTool(
    'drop_mid_call',
    {
      description:
        'Sends progress; after `dropAfter` notifications closes the SSE stream of this request, ' +
        'then sends the rest and the result for a client resuming with Last-Event-ID.',
      inputSchema: {
        steps: z.number().int().min(0).max(1000),
        dropAfter: z.number().int().min(0).max(1000),
        delayMs: z.number().int().min(0).max(10000).optional(),
      },
    },
    async ({ steps, dropAfter, delayMs }, extra) => {
      for (let i = 1; i <= steps; i++) {
        if (i === dropAfter + 1) await dropRequestStream(extra);
        await sendProgress(extra, i, steps, delayMs);
      }
      if (dropAfter >= steps) await dropRequestStream(extra);
      return { content: [{ type: 'text', text: `done ${steps}` }] };
    },
  );
  server.registerTool(
    'elicit',
    {
      description: 'Asks the client (elicitation/create, form mode) and returns its answer as JSON.',
      inputSchema: { message: z.string(), schema: z.record(z.string(), z.any()).optional() },
    },
    async ({ message, schema }, extra) => {
      const requestedSchema = schema ?? {
        type: 'object',
        properties: { name: { type: 'string' } },
        required: ['name'],
      };
      const answer = await server.server.elicitInput(
        { mode: 'form', message, requestedSchema },
        { relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: JSON.stringify(answer) }] };
    },
  );
  server.registerTool(
    'sample',
    {
      description: 'Asks the client for a completion (sampling/createMessage); returns its answer as JSON.',
      inputSchema: { prompt: z.string(), maxTokens: z.number().int().min(1).optional() },
    },
    async ({ prompt, maxTokens }, extra) => {
      const answer = await server.server.createMessage(
        {
          messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
          maxTokens: maxTokens ?? 100,
        },
        { relatedRequestId: extra.requestId },
      );
      return { content: [{ type: 'text', text: JSON.stringify(answer) }] };
    },
  );
  server.registerTool(
    'notify_get',
    {
      description:
        'Sends `count` logging notifications on the standalone GET stream (no related request), ' +
        'after waiting up to waitMs for that stream to be open.',
      inputSchema: {
        text: z.string(),
        count: z.number().int().min(1).max(1000).optional(),
        waitMs: z.number().int().min(0).max(30000).optional(),
      },
    },
    async ({ text, count, waitMs }, extra) => {
      const session = sessions.get(extra.sessionId);
      const open = await session?.getStreamOpen(waitMs ?? 5000);
      if (!open) {
        return { isError: true, content: [{ type: 'text', text: 'no standalone GET stream is open' }] };
      }
      const n = count ?? 1;
      for (let i = 1; i <= n; i++) {
        // No relatedRequestId: the transport puts it on the standalone GET stream.
        await server.server.notification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'notify_get', data: { text, index: i } },
        });
      }
      return { content: [{ type: 'text', text: `sent ${n}` }] };
    },
  );
  return server;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// One notifications/progress on the request's own stream, if the client asked for progress.
async function sendProgress(extra, progress, total, delayMs) {
  if (delayMs) await delay(delayMs);
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return;
  await extra.sendNotification({
    method: 'notifications/progress',
    params: { progressToken, progress, total, message: `step ${progress}/${total}` },
  });
}

// Ends the HTTP response that carries this request's SSE stream, without ending the request.
async function dropRequestStream(extra) {
  if (typeof extra.closeSSEStream === 'function') {
    extra.closeSSEStream();
    return;
  }
  // The SDK offers closeSSEStream only with an event store and protocol >= 2025-11-25; else
  // cut the connection ourselves (the client then has no cursor to resume from, unless the
  // store gave it one).
  const res = sessions.get(extra.sessionId)?.postResponses.get(JSON.stringify(extra.requestId));
  if (res === undefined) throw new Error('cannot find the response stream to drop');
  res.socket?.destroy();
}

// What the peer knows of one session besides the SDK's transport.
class Session {
  constructor(transport) {
    this.transport = transport;
    // JSON of a request id -> the node response carrying its SSE stream.
    this.postResponses = new Map();
    this.getStreams = 0;
    this.getWaiters = [];
  }

  changeGetStreams(delta) {
    this.getStreams += delta;
    if (this.getStreams > 0) {
      for (const wake of this.getWaiters.splice(0)) wake(true);
    }
  }

  // Resolves true once the standalone GET stream is open, false after `timeoutMs`.
  getStreamOpen(timeoutMs) {
    if (this.getStreams > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.getWaiters = this.getWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.getWaiters.push(wake);
    });
  }
}

// Mcp-Session-Id -> Session, filled when the SDK has assigned the id during initialize.
const sessions = new Map();

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
    eventStore: args['event-store'] ? new OrderedEventStore() : undefined,
    retryInterval: retryMs,
    onsessioninitialized: (sessionId) => {
      sessions.set(sessionId, new Session(transport));
    },
  });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
  };
  await buildMcpServer().connect(transport);
  await transport.handleRequest(req, res, body);
}

// Remembers which response carries a POSTed request's stream, and whether the standalone GET
// stream is open (its 200 headers were written and the connection has not closed).
function trackStreams(session, req, res, body, lastEventId) {
  if (req.method === 'POST' && body !== null && typeof body === 'object' && 'id' in body && 'method' in body) {
    const key = JSON.stringify(body.id);
    session.postResponses.set(key, res);
    res.on('close', () => {
      if (session.postResponses.get(key) === res) session.postResponses.delete(key);
    });
  }
  // The standalone stream: a plain GET, or one resuming it (OrderedEventStore ids start
  // with the SDK's stream id for it, "_GET_stream").
  if (req.method === 'GET' && (lastEventId === undefined || lastEventId.startsWith('_GET_stream_'))) {
    const writeHead = res.writeHead;
    let counted = false;
    res.writeHead = function (status, ...rest) {
      const result = writeHead.call(this, status, ...rest);
      if (status === 200 && !counted) {
        counted = true;
        session.changeGetStreams(+1);
      }
      return result;
    };
    res.on('close', () => {
      if (counted) session.changeGetStreams(-1);
    });
  }
}

async function handle(req, res) {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path !== '/mcp') {
    res.writeHead(404).end();
    return;
  }

  const lastEventId = req.headers['last-event-id'];

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

  if (args['log-requests']) {
    const rpc = body !== null && typeof body === 'object' && typeof body.method === 'string' ? body.method : '-';
    process.stdout.write(`HTTP ${req.method} ${rpc} last-event-id=${lastEventId ?? '-'}\n`);
  }

  const sessionId = req.headers['mcp-session-id'];
  if (typeof sessionId === 'string') {
    const session = sessions.get(sessionId);
    if (session === undefined) {
      sendJsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    trackStreams(session, req, res, body, lastEventId);
    // GET (standalone stream), DELETE (end of session) and later POSTs all belong to the
    // session's transport, which also enforces the protocol-version header.
    await session.transport.handleRequest(req, res, body);
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
  for (const session of sessions.values()) {
    await session.transport.close().catch(() => {});
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
