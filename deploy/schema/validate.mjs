// Validates rendered Kubernetes manifests offline (scripts/check-deploy.sh), in two ways:
//  1. the JSON-schema validators that kubernetes-models and
//     @kubernetes-models/prometheus-operator generate from the Kubernetes OpenAPI spec
//     and the Prometheus Operator CRDs: types, required fields, formats
//     (quantities, int-or-string), for every object and all it contains;
//  2. TypeScript's excess-property check against the same packages' type definitions:
//     a field that the schema does not know (a typo, a field of a newer Kubernetes)
//     fails, which the schemas alone allow (they do not forbid additional properties).
// Nothing is fetched: the schemas and types ship in the npm packages package-lock.json
// pins.
//
//   node deploy/schema/validate.mjs RENDERED.json
// RENDERED.json: {"<kustomization dir>": [object, ...]} (check_manifests.py
// --rendered-json). Prints one line per problem; exits 1 when there is any.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

// apiVersion/kind -> the model class and the module and interface of its type.
const KINDS = {
  "v1/ConfigMap": [ConfigMap, "kubernetes-models/v1/ConfigMap", "IConfigMap"],
  "v1/Service": [Service, "kubernetes-models/v1/Service", "IService"],
  "apps/v1/Deployment": [Deployment, "kubernetes-models/apps/v1/Deployment", "IDeployment"],
  "monitoring.coreos.com/v1/ServiceMonitor": [
    ServiceMonitor,
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
    "IServiceMonitor",
  ],
  "monitoring.coreos.com/v1/PrometheusRule": [
    PrometheusRule,
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
    "IPrometheusRule",
  ],
};

const rendered = JSON.parse(readFileSync(process.argv[2], "utf8"));
const problems = [];
const literals = [];
let validated = 0;
for (const [dir, objects] of Object.entries(rendered)) {
  for (const object of objects) {
    const where = `${dir}: ${object.kind} ${object.metadata?.name}`;
    const entry = KINDS[`${object.apiVersion}/${object.kind}`];
    if (!entry) {
      problems.push(`${where}: no schema for apiVersion ${object.apiVersion}`);
      continue;
    }
    const [Model, module, type] = entry;
    try {
      new Model(object).validate();
    } catch (e) {
      problems.push(`${where}: schema: ${e.message}`);
    }
    const id = `o${literals.length}`;
    literals.push({ where, text: `import type { ${type} as T${id} } from "${module}";\n` +
                                `export const ${id}: T${id} = ${JSON.stringify(object, null, 1)};\n` });
    validated++;
  }
}

// One virtual file, type-checked in place (module resolution from this folder), with
// each object as a fresh literal of its type: excess properties are errors.
const here = dirname(fileURLToPath(import.meta.url));
const virtual = join(here, "__manifests__.ts");
const source = literals.map((l) => l.text).join("");
const starts = [];  // the line each object's literal starts on, to name it in errors
let line = 0;
for (const l of literals) {
  starts.push(line);
  line += l.text.split("\n").length - 1;
}
const options = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  types: [],
};
const host = ts.createCompilerHost(options);
const getSourceFile = host.getSourceFile.bind(host);
host.getSourceFile = (name, version, ...rest) =>
  name === virtual ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest);
const fileExists = host.fileExists.bind(host);
host.fileExists = (name) => name === virtual || fileExists(name);
const readFile = host.readFile.bind(host);
host.readFile = (name) => (name === virtual ? source : readFile(name));
const program = ts.createProgram([virtual], options, host);
for (const d of ts.getPreEmitDiagnostics(program)) {
  const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
  if (d.file?.fileName !== virtual) {
    problems.push(`types: ${message}`);
    continue;
  }
  const at = d.file.getLineAndCharacterOfPosition(d.start).line;
  let i = starts.length - 1;
  while (i > 0 && starts[i] > at) i--;
  const path = d.file.text.split("\n")[at].trim().slice(0, 80);
  problems.push(`${literals[i].where}: field: ${message} (at ${path})`);
}

for (const p of problems) console.log(`FAIL: ${p}`);
console.log(`validate.mjs: ${validated} objects against the Kubernetes and Prometheus Operator schemas, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
