// ESLint: JavaScript's recommended rules and typescript-eslint's recommended set (not the
// type-aware one: docs/contributing.md gives its measured cost), plus the house's. Formatting is
// Prettier's (npm run format). `npm test` runs both (test/lint.test.ts).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Node's globals, for our CommonJS scripts (bin/, scripts/*.js, test/peers/*.js). */
const NODE_GLOBALS = Object.fromEntries(
  [
    "require",
    "module",
    "exports",
    "__dirname",
    "__filename",
    "process",
    "console",
    "Buffer",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
    "URL",
  ].map((g) => [g, "readonly"]),
);

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".tools/", "cdktf.out/", "bench.out/", "test/.tmp/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "no-duplicate-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // `any` is where untyped JSON comes in (kubectl's output, JSON Schema, proto-loader's messages, the
      // synthesized stacks the tests read); typing each of those is work of its own, not a lint.
      "@typescript-eslint/no-explicit-any": "off",
      // We strip terminal escapes and XML-invalid characters on purpose.
      "no-control-regex": "off",
    },
  },
  {
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: NODE_GLOBALS },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests load modules afresh (jest.isolateModules) and read JSON with require.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
