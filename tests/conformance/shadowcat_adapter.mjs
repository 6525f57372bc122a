#!/usr/bin/env node
// The MCP conformance suite's "client", played by Shadowcat: this adapter drives a Shadowcat
// over its gRPC API (proto/shadowcat/v1/shadowcat.proto) so that Shadowcat is the MCP client
// the suite's scenario server sees.
//
//   conformance client --command "node tests/conformance/shadowcat_adapter.mjs" --scenario S
//
// The suite starts the scenario's server, then runs the command with the server's URL as the
// last argument and the scenario's name in $MCP_CONFORMANCE_SCENARIO. Shadowcat:
//   $SHADOWCAT_GRPC=host:port   use a running Shadowcat (its allowlist must admit the URL), or
//   $SHADOWCAT_BIN=path         start that binary on loopback with --allowed_upstreams set to
//                               the URL's origin (the scenario's port is random) and stop it at
//                               the end.
// $SHADOWCAT_ADAPTER_VERBOSE=1 runs Shadowcat with --verbose. Logs go to stderr. Exits 0 when
// every step of the scenario worked, 1 otherwise.
//
// Server requests (elicitation/create, sampling/createMessage, roots/list, ping) arriving on a
// CallStream or on Subscribe are answered with Respond; elicitation is accepted with the
// `default` of every field of the requested schema (SEP-1034).

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// The npm packages live in tests/interop/node_modules (scripts/bootstrap.sh).
const require = createRequire(new URL('../interop/package.json', import.meta.url));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = fileURLToPath(new URL('../../proto/shadowcat/v1/shadowcat.proto', import.meta.url));
const CALL_TIMEOUT_MS = 10_000;
const WATCHDOG_MS = 25_000; // the suite's own client timeout is 30 s

// Processes we started; killed if we exit early (watchdog, SIGTERM from the suite).
const children = new Set();
function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    process.exit(1);
  });
}

function log(...parts) {
  process.stderr.write(`[adapter] ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------- Shadowcat process and stub

async function startShadowcat(binary, upstreamOrigin) {
  const args = [
    '--grpc_listen=127.0.0.1:0',
    '--admin_listen=127.0.0.1:0',
    `--allowed_upstreams=${upstreamOrigin}`,
    '--drain_grace=1s',
  ];
  if (process.env.SHADOWCAT_ADAPTER_VERBOSE) args.push('--verbose');
  log('starting', binary, ...args);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const port = await new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error('shadowcat did not log its gRPC port within 15 s')), 15_000);
    const onLine = (line) => {
      process.stderr.write(`[shadowcat] ${line}\n`);
      const m = /serving gRPC on \S*?:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    const onData = (chunk) => {
      pending += chunk.toString();
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`shadowcat exited (code ${code}, signal ${signal}) before serving`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  // Stops it; resolves true when it exited cleanly (0 after SIGTERM). A sanitizer report or
  // a hang on shutdown is a failure of the scenario too.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (child.exitCode === 0) return true;
    log(`shadowcat exited with code ${child.exitCode}, signal ${child.signalCode}`);
    return false;
  };
  return { target: `127.0.0.1:${port}`, stop };
}

function makeStub(target) {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).shadowcat.v1;
  return new v1.Shadowcat(target, grpc.credentials.createInsecure());
}

function deadline(ms = CALL_TIMEOUT_MS) {
  return { deadline: Date.now() + ms };
}

function unary(stub, method, request, ms) {
  return new Promise((resolve, reject) => {
    stub[method](request, deadline(ms), (err, response) => {
      if (err) reject(new Error(`${method}: ${grpcError(err)}`));
      else resolve(response);
    });
  });
}

function grpcError(err) {
  const code = Object.entries(grpc.status).find(([, v]) => v === err.code)?.[0] ?? err.code;
  return `${code}: ${err.details ?? err.message}`;
}

// The `result` of a CallResponse as a parsed object; throws on a JSON-RPC error.
function resultOf(method, response) {
  if (response.outcome === 'result_json') return JSON.parse(response.result_json);
  if (response.outcome === 'error') {
    const e = response.error;
    throw new Error(`${method}: JSON-RPC error ${e.code} ${e.message} ${e.data_json}`);
  }
  throw new Error(`${method}: response has neither result nor error`);
}

// ---------------------------------------------------------------- server requests

// Builds the answer to a server request, or a JSON-RPC error.
function answerFor(message) {
  switch (message.method) {
    case 'elicitation/create': {
      const schema = message.params?.requestedSchema ?? {};
      const content = {};
      for (const [name, field] of Object.entries(schema.properties ?? {})) {
        if (field && Object.hasOwn(field, 'default')) content[name] = field.default;
      }
      for (const name of schema.required ?? []) {
        if (Object.hasOwn(content, name)) continue;
        const type = schema.properties?.[name]?.type;
        content[name] =
          type === 'number' || type === 'integer' ? 0 : type === 'boolean' ? false : type === 'array' ? [] : '';
      }
      return { result: { action: 'accept', content } };
    }
    case 'sampling/createMessage':
      return {
        result: {
          role: 'assistant',
          content: { type: 'text', text: 'shadowcat conformance adapter' },
          model: 'shadowcat-adapter',
          stopReason: 'endTurn',
        },
      };
    case 'roots/list':
      return { result: { roots: [] } };
    case 'ping':
      return { result: {} };
    default:
      return { error: { code: -32601, message: `adapter does not handle ${message.method}` } };
  }
}

class ServerRequests {
  constructor(stub, sessionId) {
    this.stub = stub;
    this.sessionId = sessionId;
    this.answered = new Set();
    this.failures = [];
    this.seen = [];
  }

  // Called with every ServerMessage from CallStream or Subscribe.
  async handle(serverMessage, where) {
    let message;
    try {
      message = JSON.parse(serverMessage.message_json);
    } catch (err) {
      this.failures.push(`${where}: unparsable message ${serverMessage.message_json}`);
      return;
    }
    log(`${where}: ${serverMessage.method} ${serverMessage.message_json.slice(0, 300)}`);
    this.seen.push(message.method);
    if (!('id' in message) || message.method === undefined) return; // a notification
    const key = JSON.stringify(message.id);
    if (this.answered.has(key)) return;
    this.answered.add(key);
    const answer = answerFor(message);
    const request = { session_id: this.sessionId, request_id_json: key };
    if (answer.result !== undefined) request.result_json = JSON.stringify(answer.result);
    else request.error = { code: answer.error.code, message: answer.error.message, data_json: '' };
    try {
      await unary(this.stub, 'Respond', request);
      log(`answered ${message.method} ${key}: ${JSON.stringify(answer)}`);
    } catch (err) {
      this.failures.push(`Respond to ${message.method} ${key}: ${err.message}`);
    }
  }
}

// ---------------------------------------------------------------- calls

async function call(stub, sessionId, method, params) {
  const response = await unary(stub, 'Call', {
    session_id: sessionId,
    method,
    params_json: params === undefined ? '' : JSON.stringify(params),
  });
  return resultOf(method, response);
}

// CallStream; hands every message event to `requests`; resolves with the parsed result.
function callStream(stub, sessionId, method, params, requests) {
  return new Promise((resolve, reject) => {
    const stream = stub.CallStream(
      { session_id: sessionId, method, params_json: JSON.stringify(params) },
      deadline(),
    );
    let done = false;
    const handling = [];
    stream.on('data', (event) => {
      if (event.event === 'started') {
        log(`CallStream ${method} started, handle ${event.started.request_id}`);
      } else if (event.event === 'message') {
        handling.push(requests.handle(event.message, 'CallStream'));
      } else if (event.event === 'response') {
        done = true;
        Promise.all(handling).then(() => {
          try {
            resolve(resultOf(method, event.response));
          } catch (err) {
            reject(err);
          }
        });
      }
    });
    stream.on('error', (err) => {
      if (!done) reject(new Error(`CallStream ${method}: ${grpcError(err)}`));
    });
    stream.on('end', () => {
      if (!done) reject(new Error(`CallStream ${method}: ended without a response`));
    });
  });
}

// Subscribe from the first buffered message; returns a function that cancels it.
function subscribe(stub, sessionId, requests) {
  const stream = stub.Subscribe({ session_id: sessionId, after_sequence: '0' });
  stream.on('data', (message) => {
    requests.handle(message, `Subscribe #${message.sequence}`);
  });
  stream.on('error', (err) => {
    if (err.code !== grpc.status.CANCELLED) log(`Subscribe failed: ${grpcError(err)}`);
  });
  return () => stream.cancel();
}

// Polls GetSession until the upstream's standalone GET stream is open (a server request sent
// there before it is connected would be lost), for at most `ms`.
async function waitServerStreamOpen(stub, sessionId, ms) {
  const until = Date.now() + ms;
  let info;
  while (Date.now() < until) {
    info = await unary(stub, 'GetSession', { session_id: sessionId });
    if (info.server_stream === 'SERVER_STREAM_STATUS_OPEN') return true;
    if (info.server_stream === 'SERVER_STREAM_STATUS_UNSUPPORTED') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  log(`server stream not open (${info?.server_stream}); going on`);
  return false;
}

// Arguments for a tool from its input schema: 1, 2, ... for numbers, strings, true.
function argumentsFor(tool) {
  const args = {};
  let n = 0;
  for (const [name, field] of Object.entries(tool.inputSchema?.properties ?? {})) {
    n += 1;
    if (field.type === 'number' || field.type === 'integer') args[name] = n;
    else if (field.type === 'boolean') args[name] = true;
    else if (field.type === 'string') args[name] = `shadowcat-${name}`;
  }
  return args;
}

// ---------------------------------------------------------------- scenarios

async function openSession(stub, url, { capabilities, openServerStream } = {}) {
  const opened = await unary(stub, 'OpenSession', {
    upstream_url: url,
    client_info: { name: 'shadowcat-conformance-adapter', version: '1.0.0' },
    capabilities_json: capabilities === undefined ? '' : JSON.stringify(capabilities),
    options: { open_server_stream: Boolean(openServerStream) },
  });
  log(`opened ${opened.session_id}: protocol ${opened.protocol_version}, server ${opened.server_info_json}`);
  return opened.session_id;
}

async function closeSession(stub, sessionId) {
  const closed = await unary(stub, 'CloseSession', { session_id: sessionId });
  log(`closed ${sessionId}: upstream_deleted=${closed.upstream_deleted}`);
}

async function callEveryTool(stub, sessionId, { stream, requests }) {
  const listed = await call(stub, sessionId, 'tools/list', {});
  const tools = listed.tools ?? [];
  log(`tools: ${tools.map((t) => t.name).join(', ') || '(none)'}`);
  for (const tool of tools) {
    const params = { name: tool.name, arguments: argumentsFor(tool) };
    const result = stream
      ? await callStream(stub, sessionId, 'tools/call', params, requests)
      : await call(stub, sessionId, 'tools/call', params);
    log(`tools/call ${tool.name}: ${JSON.stringify(result).slice(0, 300)}`);
    if (result.isError) throw new Error(`tools/call ${tool.name} returned isError`);
  }
  return tools.length;
}

const SCENARIOS = {
  async initialize(stub, url) {
    const session = await openSession(stub, url);
    await closeSession(stub, session);
  },

  async tools_call(stub, url) {
    const session = await openSession(stub, url);
    const n = await callEveryTool(stub, session, { stream: false });
    if (n === 0) throw new Error('tools/list listed no tool');
    await closeSession(stub, session);
  },

  // The server closes the tools/call SSE stream after a priming event with `retry: 500`;
  // Shadowcat must resume it with GET + Last-Event-ID after 500 ms and deliver the result.
  async 'sse-retry'(stub, url) {
    const session = await openSession(stub, url);
    const requests = new ServerRequests(stub, session);
    const n = await callEveryTool(stub, session, { stream: true, requests });
    if (n === 0) throw new Error('tools/list listed no tool');
    await closeSession(stub, session);
  },

  // The tool sends elicitation/create with no related request, so it travels on the
  // standalone GET stream: open it with the session and take server requests from Subscribe
  // as well as from the CallStream.
  async 'elicitation-sep1034-client-defaults'(stub, url) {
    return generic(stub, url, { elicitation: { form: {} } });
  },
};

async function generic(stub, url, capabilities = { elicitation: { form: {} }, sampling: {}, roots: {} }) {
  const session = await openSession(stub, url, { capabilities, openServerStream: true });
  const requests = new ServerRequests(stub, session);
  const unsubscribe = subscribe(stub, session, requests);
  try {
    await waitServerStreamOpen(stub, session, 3_000);
    await callEveryTool(stub, session, { stream: true, requests });
  } finally {
    unsubscribe();
  }
  if (requests.failures.length > 0) throw new Error(requests.failures.join('; '));
  await closeSession(stub, session);
}

// ---------------------------------------------------------------- main

async function main() {
  const url = process.argv.at(-1);
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  if (!url || !/^https?:\/\//.test(url)) {
    log('usage: shadowcat_adapter.mjs <server-url>  (scenario in $MCP_CONFORMANCE_SCENARIO)');
    return 2;
  }
  log(`scenario "${scenario}", server ${url}`);

  let target = process.env.SHADOWCAT_GRPC;
  let shadowcat;
  if (!target) {
    const binary = process.env.SHADOWCAT_BIN;
    if (!binary) {
      log('set SHADOWCAT_GRPC (a running Shadowcat) or SHADOWCAT_BIN (a binary to start)');
      return 2;
    }
    shadowcat = await startShadowcat(binary, new URL(url).origin);
    target = shadowcat.target;
  }
  const stub = makeStub(target);
  let ok = false;
  try {
    const run = SCENARIOS[scenario] ?? ((s, u) => generic(s, u));
    await run(stub, url);
    log(`scenario "${scenario}": every step worked`);
    ok = true;
  } catch (err) {
    log(`scenario "${scenario}" FAILED: ${err.message}`);
  } finally {
    stub.close();
  }
  if (shadowcat !== undefined && !(await shadowcat.stop())) ok = false;
  return ok ? 0 : 1;
}

const watchdog = setTimeout(() => {
  log(`gave up after ${WATCHDOG_MS} ms`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
process.exitCode = await main();
// Nothing of ours should keep the loop alive, but a stuck gRPC channel must not hang the suite.
setTimeout(() => process.exit(process.exitCode), 1_000).unref();
