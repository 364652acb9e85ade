import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

// The house rules, checked on the import graph of lib/ (every `import`, `export … from`,
// `require()` and `import()` of every file, lazy ones included):
//   core/        what both sides must agree on (specs, colors, names, the gate's flags, the weights'
//                version, problems, the Prometheus text format); imports only core/
//   constructs/  synth time: cdktf, the providers, the renderers; imports core/ and itself
//   run/         apply time and after: verifier, promotion driver, reports; imports core/ and itself
//   cli/         the commands, above every run-time module; imports core/, run/ and itself
//   index.ts     the package (what a stack imports): core/ and constructs/
// No file imports one of a layer that may not be imported, nothing imports cli/, and no two files
// import each other, directly or round a circle.
const lib = path.resolve(__dirname, "..", "lib");

type Layer = "core" | "constructs" | "run" | "cli" | "index";
const ALLOWED: Record<Layer, Layer[]> = {
  core: ["core"],
  constructs: ["core", "constructs"],
  run: ["core", "run"],
  cli: ["core", "run", "cli"],
  index: ["core", "constructs"],
};

function layerOf(file: string): Layer {
  const rel = path.relative(lib, file);
  if (rel === "index.ts") return "index";
  const top = rel.split(path.sep)[0];
  if (top === "core" || top === "constructs" || top === "run" || top === "cli") return top;
  throw new Error(`${rel} is in no layer: put it under core/, constructs/, run/ or cli/`);
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return p === path.join(lib, "types") ? [] : sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Every module a file names, resolved to a file of lib/ where it is one of ours. */
function importsOf(file: string): { local: string[]; external: string[] } {
  const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
  const local: string[] = [];
  const external: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith(".")) {
      external.push(fileName);
      continue;
    }
    const base = path.resolve(path.dirname(file), fileName);
    const found = [`${base}.ts`, path.join(base, "index.ts"), base].find(
      (c) => fs.existsSync(c) && fs.statSync(c).isFile(),
    );
    if (!found) throw new Error(`${path.relative(lib, file)} imports ${fileName}, which is no file`);
    if (found.endsWith(".ts")) local.push(found);
  }
  return { local, external };
}

const files = sources(lib);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(lib, f);

test("no module imports one of a layer above it or beside it", () => {
  const wrong = files.flatMap((f) =>
    graph
      .get(f)!
      .local.filter((to) => !ALLOWED[layerOf(f)].includes(layerOf(to)))
      .map((to) => `${rel(f)} (${layerOf(f)}) imports ${rel(to)} (${layerOf(to)})`),
  );
  expect(wrong).toEqual([]);
  // the layers are real: each holds files, and the rule has something to refuse
  expect(new Set(files.map(layerOf))).toEqual(new Set(["core", "constructs", "run", "cli", "index"]));
});

test("the promotion driver writes records and never imports the reports that read them", () => {
  const driverSide = files.filter((f) => rel(f).startsWith(`run${path.sep}promote${path.sep}`));
  expect(driverSide.length).toBeGreaterThan(3);
  const wrong = driverSide.flatMap((f) =>
    graph
      .get(f)!
      .local.filter((to) => rel(to).startsWith(`run${path.sep}observe${path.sep}`))
      .map((to) => `${rel(f)} imports ${rel(to)}`),
  );
  expect(wrong).toEqual([]);
});

test("the construct side never names the run side's libraries, and the run side never names cdktf", () => {
  const runOnly = /^(undici|@grpc\/|vega|vega-lite|commander|cli-progress|parse-prometheus-text-format)/;
  const synthOnly = /^(cdktf|@cdktf\/|constructs)(\/|$)/;
  const wrong = files.flatMap((f) => {
    const layer = layerOf(f);
    const bad =
      layer === "constructs" || layer === "index" || layer === "core"
        ? graph.get(f)!.external.filter((m) => runOnly.test(m))
        : [];
    const bad2 =
      layer !== "constructs" && layer !== "index" ? graph.get(f)!.external.filter((m) => synthOnly.test(m)) : [];
    return [...bad, ...bad2].map((m) => `${rel(f)} (${layer}) imports ${m}`);
  });
  expect(wrong).toEqual([]);
});

test("no two modules import each other, directly or round a circle", () => {
  // Tarjan's strongly connected components: any component of more than one file is a circle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)!.local) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(rel(w));
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.local.includes(v)) circles.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  expect(circles).toEqual([]);
});

/** The modules a fresh Node process holds after requiring `entry` (through ts-node, as bin/ does). */
function loadedBy(entry: string): string[] {
  const script = `require("ts-node").register({ transpileOnly: true, project: ${JSON.stringify(path.join(lib, "..", "tsconfig.json"))} }); require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`requiring ${entry} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

test("loading the CLI loads no cdktf, provider or constructs module", () => {
  const loaded = loadedBy(path.join(lib, "cli", "main.ts"));
  // it did load the run side (the check can fail)
  expect(loaded.some((m) => m.includes(`${path.sep}lib${path.sep}run${path.sep}`))).toBe(true);
  expect(loaded.filter((m) => /[\\/]node_modules[\\/](cdktf|@cdktf|constructs)[\\/]/.test(m))).toEqual([]);
});

test("importing the package from a stack loads no run-time module", () => {
  const loaded = loadedBy(path.join(lib, "index.ts"));
  expect(loaded.some((m) => /[\\/]node_modules[\\/]cdktf[\\/]/.test(m))).toBe(true);
  const runtime = loaded.filter(
    (m) =>
      m.includes(`${path.sep}lib${path.sep}run${path.sep}`) ||
      m.includes(`${path.sep}lib${path.sep}cli${path.sep}`) ||
      /[\\/]node_modules[\\/](undici|@grpc|vega|vega-lite|commander|cli-progress)[\\/]/.test(m),
  );
  expect(runtime.map((m) => path.relative(path.join(lib, ".."), m))).toEqual([]);
});
