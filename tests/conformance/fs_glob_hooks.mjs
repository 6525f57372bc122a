// Module resolve hook for node20_preload.mjs: 'fs' and 'node:fs' imported from the
// conformance package resolve to fs_glob.mjs.

const shim = new URL('./fs_glob.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if ((specifier === 'fs' || specifier === 'node:fs') &&
      context.parentURL?.includes('/node_modules/@modelcontextprotocol/conformance/')) {
    return { url: shim, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
