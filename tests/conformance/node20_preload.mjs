// Preload that lets the MCP conformance CLI (npm @modelcontextprotocol/conformance) run on
// Node 20: its bundle does `import { globSync } from "fs"`, and Node 20's fs has no globSync,
// so the import fails before anything runs. This registers a module resolve hook that hands
// the CLI's own imports of 'fs' / 'node:fs' our fs_glob.mjs (node:fs plus globSync) instead.
// Nothing else is redirected. On a Node that has fs.globSync it does nothing.
//
//   node --import ./tests/conformance/node20_preload.mjs \
//        tests/interop/node_modules/@modelcontextprotocol/conformance/dist/index.js client ...

import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register(new URL('./fs_glob_hooks.mjs', import.meta.url));
}
