#!/usr/bin/env node
// Launcher for the reference "everything" MCP server (npm @modelcontextprotocol/server-everything)
// as an interop peer on loopback:
//
//   node everything_server.mjs [--port N] [--transport streamableHttp|sse]
//
// The package reads its port from $PORT and listens on every interface; this launcher makes
// it listen on 127.0.0.1 only, on --port (0, the default, = any free port), and prints exactly
// `LISTENING <port>` on stdout once it accepts connections, like sdk_server.mjs. The endpoint
// is /mcp for streamableHttp (the default) and GET /sse + POST /message for sse (the legacy
// 2024-11-05 transport). See everything_peer.md. Exits on SIGTERM or SIGINT.

import net from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    transport: { type: 'string', default: 'streamableHttp' },
  },
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${args.port}`);
  process.exit(2);
}
const modules = {
  streamableHttp: '@modelcontextprotocol/server-everything/dist/transports/streamableHttp.js',
  sse: '@modelcontextprotocol/server-everything/dist/transports/sse.js',
};
if (!(args.transport in modules)) {
  console.error(`invalid --transport: ${args.transport} (streamableHttp or sse)`);
  process.exit(2);
}

// The package calls app.listen(PORT, callback) once at import. Redirect that one call to
// loopback and the chosen port, and announce the port the kernel gave.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...listenArgs) {
  net.Server.prototype.listen = listen;
  const callback = typeof listenArgs.at(-1) === 'function' ? listenArgs.at(-1) : undefined;
  this.once('listening', () => {
    process.stdout.write(`LISTENING ${this.address().port}\n`);
  });
  return listen.call(this, { port, host: '127.0.0.1' }, callback);
};

// Its streamableHttp module only handles SIGINT.
process.on('SIGTERM', () => process.exit(0));

process.env.PORT = String(port);
await import(modules[args.transport]);
