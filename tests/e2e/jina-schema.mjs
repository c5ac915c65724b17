// Jina's published 2026 schema (tests/fixtures/jina-openapi-2026.json) as a validator, so
// the tests can hold what the npm package returns in the browser to the same schema that
// schemathesis holds `triage serve` to (tests/py/schema_test.py): the two faces cannot drift.
//
//   assertJinaShape("ClassificationResponse", value)   throws, naming every mismatch

import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const SCHEMA = JSON.parse(readFileSync(new URL("../fixtures/jina-openapi-2026.json", import.meta.url), "utf8"));
// OpenAPI's own keywords (`discriminator`, `example`) are not JSON Schema: strict mode off
// ignores them; formats (uuid, date-time) are checked.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(SCHEMA, "jina");

/** Validates `value` against `components.schemas[name]`, or against an inline schema. */
export function assertJinaShape(name, value) {
  const validate =
    typeof name === "string" ? ajv.getSchema(`jina#/components/schemas/${name}`) : ajv.compile(name);
  if (!validate(value)) {
    const why = validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
    throw new Error(`not a Jina ${typeof name === "string" ? name : "value"}: ${why}\n${JSON.stringify(value).slice(0, 500)}`);
  }
}

/** The 200 response schema of `method path`, e.g. ("get", "/v1/classifiers"). */
export function responseSchemaOf(method, path) {
  return { $ref: `jina#/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/${method}/responses/200/content/application~1json/schema` };
}
