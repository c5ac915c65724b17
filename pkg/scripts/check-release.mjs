// Refuses to publish anything but the optimised release build of the wasm (package.json's
// `prepublishOnly`, so it runs on `npm publish`, dry runs included, and never on `npm pack`).
// pkg/build.sh records how it built pkg/wasm in wasm/build.json; this checks that record
// (release profile, wasm-opt run), that the module is the one recorded (sha256), and, from the
// module itself, that wasm-opt really ran: it drops the `name` and DWARF custom sections that
// wasm-bindgen's output keeps.
//
//   node pkg/scripts/check-release.mjs [package dir]     (default: pkg/)
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REBUILD = "build it with `bash pkg/build.sh --release --wasm-opt`";

/** The names of a wasm module's custom sections (section id 0), in order. */
export function customSections(bytes) {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new Error("not a wasm module");
  const names = [];
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new Error("truncated wasm module");
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (end > bytes.length) throw new Error("truncated wasm module");
    if (id === 0) {
      const length = leb();
      names.push(new TextDecoder().decode(bytes.subarray(at, at + length)));
    }
    at = end;
  }
  return names;
}

/** Returns why `dir`'s wasm must not be published, or null when it may. */
export function releaseProblem(dir) {
  const wasmPath = join(dir, "wasm/triage_bg.wasm");
  let record;
  try {
    record = JSON.parse(readFileSync(join(dir, "wasm/build.json"), "utf8"));
  } catch {
    return `${join(dir, "wasm/build.json")} is missing or unreadable: ${REBUILD}`;
  }
  if (record.profile !== "release" || record.wasm_opt !== true) {
    return `${wasmPath} is a ${record.profile} build${record.wasm_opt ? "" : " without wasm-opt"}: ${REBUILD}`;
  }
  let bytes;
  try {
    bytes = readFileSync(wasmPath);
  } catch {
    return `${wasmPath} is missing: ${REBUILD}`;
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== record.sha256) {
    return `${wasmPath} is not the module pkg/build.sh recorded (sha256 ${sha256}, recorded ${record.sha256}): ${REBUILD}`;
  }
  let sections;
  try {
    sections = customSections(bytes);
  } catch (e) {
    return `${wasmPath}: ${e.message}`;
  }
  const debug = sections.filter((name) => name === "name" || name.startsWith(".debug"));
  if (debug.length) return `${wasmPath} still has the custom sections ${debug.join(", ")} (wasm-opt did not run on it): ${REBUILD}`;
  return null;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? join(fileURLToPath(new URL(".", import.meta.url)), ".."));
  const problem = releaseProblem(dir);
  if (problem) {
    console.error(`refusing to publish: ${problem}`);
    process.exit(1);
  }
  console.log(`ok ${join(dir, "wasm/triage_bg.wasm")} is the optimised release build`);
}
