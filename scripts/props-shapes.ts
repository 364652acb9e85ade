// Writes lib/constructs/props-shapes.ts: for every props object the package's constructs and
// factories take, the keys its TypeScript type declares, and for each key the shape of a nested
// object (or of an array's elements) when that is a props object too. The runtime key check
// (`PropValidator.knownKeys`) reads it, so a JavaScript stack, or props built from JSON or YAML,
// cannot pass a key the types do not have. Run: `npx ts-node --transpile-only scripts/props-shapes.ts`;
// test/props-shapes.test.ts fails when the file is not what this script writes.
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");
export const SHAPES_FILE = path.join(ROOT, "lib", "constructs", "props-shapes.ts");

/** Types checked by a checker of their own (the verification spec: its JSON Schema). */
const OWN_CHECKER = new Set(["VerifySpec"]);

type Shape = Record<string, string | null>;

export function generateShapes(): string {
  const program = ts.createProgram([path.join(ROOT, "lib", "index.ts")], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    strict: true,
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
  });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(path.join(ROOT, "lib", "index.ts"))!;
  const shapes = new Map<string, Shape>();
  const named = new Map<ts.Type, string>();
  const roots: Record<string, string> = {};

  const ours = (t: ts.Type): boolean =>
    t.isIntersection()
      ? t.types.every(ours)
      : ((t.aliasSymbol ?? t.getSymbol())
          ?.getDeclarations()
          ?.every((d) => d.getSourceFile().fileName.startsWith(path.join(ROOT, "lib"))) ?? false);
  const isClassInstance = (t: ts.Type) => !!((t.getSymbol()?.flags ?? 0) & ts.SymbolFlags.Class);
  /** An object type whose keys are the props' own: not a class, a function, an array or the user's map. */
  const isPropsObject = (t: ts.Type) =>
    (!!(t.flags & ts.TypeFlags.Object) ||
      (t.isIntersection() && t.types.every((m) => !!(m.flags & ts.TypeFlags.Object)))) &&
    !isClassInstance(t) &&
    !checker.isArrayType(t) &&
    !checker.isTupleType(t) &&
    t.getCallSignatures().length === 0 &&
    !t.getStringIndexType() &&
    ours(t) &&
    t.getProperties().length > 0;

  /** The shape name of a value of type `t` (its object or its array's elements), or null for a leaf. */
  function shapeOf(t: ts.Type, where: string): string | null {
    t = checker.getNonNullableType(t);
    if (checker.isArrayType(t)) return shapeOf(checker.getTypeArguments(t as ts.TypeReference)[0], where);
    const members = (t.isUnion() ? t.types : [t]).filter((m) => !(m.flags & ts.TypeFlags.Undefined));
    const objects = members.filter(isPropsObject);
    if (objects.length === 0) {
      const arrays = members.filter((m) => checker.isArrayType(m));
      return arrays.length === 1 ? shapeOf(arrays[0], where) : null;
    }
    const name = objects.length === 1 ? typeName(objects[0], where) : where;
    if (OWN_CHECKER.has(name)) return null;
    if (objects.length === 1 && named.get(objects[0]) === name) return name;
    if (objects.length === 1) named.set(objects[0], name);
    if (shapes.has(name)) return name;
    const shape: Shape = {};
    shapes.set(name, shape);
    for (const o of objects)
      for (const p of checker.getPropertiesOfType(o)) {
        const decl = p.valueDeclaration ?? p.declarations?.[0];
        if (!decl) continue;
        const nested = shapeOf(checker.getTypeOfSymbolAtLocation(p, decl), `${name}.${p.name}`);
        shape[p.name] = shape[p.name] ?? nested;
      }
    return name;
  }

  function typeName(t: ts.Type, where: string): string {
    const known = named.get(t);
    if (known) return known;
    const symbol = t.aliasSymbol ?? t.getSymbol();
    const name = symbol && symbol.name !== "__type" && symbol.name !== "__object" ? symbol.name : where;
    let unique = name;
    for (let i = 2; shapes.has(unique); i++) unique = `${name}${i}`;
    return unique;
  }

  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(index)!);
  for (const sym of exported.sort((a, b) => a.name.localeCompare(b.name))) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = target.valueDeclaration;
    if (!decl) continue;
    const type = checker.getTypeOfSymbolAtLocation(target, decl);
    const signatures: [string, readonly ts.Signature[]][] = [];
    if (target.flags & ts.SymbolFlags.Class && !sym.name.endsWith("Error")) {
      signatures.push([sym.name, type.getConstructSignatures()]);
      for (const s of checker.getPropertiesOfType(type)) {
        const d = s.valueDeclaration;
        if (!d || !ts.isMethodDeclaration(d) || ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Private) continue;
        if (s.name.startsWith("_")) continue;
        signatures.push([`${sym.name}.${s.name}`, checker.getTypeOfSymbolAtLocation(s, d).getCallSignatures()]);
      }
    } else if (target.flags & ts.SymbolFlags.Function && !sym.name.endsWith("Error"))
      signatures.push([sym.name, type.getCallSignatures()]);
    for (const [root, sigs] of signatures)
      for (const sig of sigs)
        sig.getParameters().forEach((p, i) => {
          const shape = shapeOf(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration!), `${root}#${i}`);
          if (shape) roots[`${root}#${i}`] = shape;
        });
  }

  const sorted = [...shapes.entries()].sort(([a], [b]) => a.localeCompare(b));
  const lines = [
    "// Generated by scripts/props-shapes.ts from the props' TypeScript types: do not edit.",
    "// Each shape: its keys, and for a key holding a props object (or an array of them) that object's shape.",
    "// Maps of the user's own keys (labels, annotations, env, node selectors), class instances and the",
    "// verification spec (checked by its JSON Schema) are leaves (null).",
    "",
    "export const SHAPES: Readonly<Record<string, Readonly<Record<string, string | null>>>> = {",
    ...sorted.map(
      ([name, shape]) =>
        `  ${JSON.stringify(name)}: { ${Object.entries(shape)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
          .join(", ")} },`,
    ),
    "};",
    "",
    "/** `Class#i` (a constructor's parameter i), `Class.method#i`, `function#i`: the shape of that parameter. */",
    "export const ROOTS: Readonly<Record<string, string>> = {",
    ...Object.entries(roots)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`),
    "};",
    "",
  ];
  return lines.join("\n");
}

if (require.main === module) {
  fs.writeFileSync(SHAPES_FILE, generateShapes());
  console.log(`wrote ${path.relative(ROOT, SHAPES_FILE)}`);
}
