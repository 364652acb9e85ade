/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  // Node's, plus: every process a test starts ends with it; an e2e file stops at its first failure.
  testEnvironment: "<rootDir>/test/environment.ts",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  // The README example imports the package by its published name.
  moduleNameMapper: { "^cdktf-triton$": "<rootDir>/lib/index.ts", "^cdktf-triton/run$": "<rootDir>/lib/run/index.ts" },
  testTimeout: 60000,
};
