// The module 'fs' as seen by the MCP conformance CLI on Node 20 (see node20_preload.mjs):
// node:fs plus `globSync`, which Node added in 22. The CLI only calls it from its
// `tier-check` command (patterns like `**/checks.json`), which our tests do not use; this is
// a small, correct-enough version for such patterns: `**` (any folders), `*`, `?`, relative
// to options.cwd, returning relative paths with '/' separators.

import fs from 'node:fs';
import path from 'node:path';

export * from 'node:fs';
export default fs;

function globToRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` matches anything.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

function walk(root, relative, out) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
    out.push(rel);
    if (entry.isDirectory()) walk(root, rel, out);
  }
}

export function globSync(patterns, options = {}) {
  if (typeof fs.globSync === 'function') return fs.globSync(patterns, options);
  const cwd = options.cwd === undefined ? process.cwd() : String(options.cwd);
  const list = Array.isArray(patterns) ? patterns : [patterns];
  const regexps = list.map((p) => globToRegExp(String(p).replace(/\\/g, '/')));
  const all = [];
  walk(cwd, '', all);
  return all.filter((p) => regexps.some((r) => r.test(p)));
}
